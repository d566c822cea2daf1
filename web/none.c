/*
 * none.c - the dashboard's place in a `shopflow` built without it
 * (-DSHOPFLOW_DASHBOARD=OFF, for builds that never serve it, like the fuzz
 * targets'): / answers 404 saying so, never an empty page.
 */
#include "gateway/static.h"

const sf_assets sf_web_assets = {NULL, 0,
                                 "this shopflow was built without its dashboard "
                                 "(-DSHOPFLOW_DASHBOARD=OFF); rebuild with Node.js and npm"};
