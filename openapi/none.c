/*
 * none.c - the OpenAPI document's place in a `shopflow` built without it
 * (-DSHOPFLOW_OPENAPI=OFF, for a machine without Node.js): /openapi.json
 * answers 404 saying so. The document itself is docs/openapi.yaml.
 */
#include "gateway/static.h"

const sf_assets sf_openapi_doc = {NULL, 0,
                                  "this shopflow was built without its OpenAPI document "
                                  "(-DSHOPFLOW_OPENAPI=OFF); it is docs/openapi.yaml in the "
                                  "source"};
