/*
 * sf_test_kafka_mock.c - a Kafka cluster for tests: librdkafka's mock
 * cluster (rdkafka_mock.h) in a process of its own, so the server and the
 * sinks under test run as separate processes and talk to it over loopback
 * as they would to real brokers.
 *
 *   sf_test_kafka_mock TOPIC PARTITIONS [BROKERS]      (3 brokers by default)
 *
 * Creates TOPIC with PARTITIONS partitions, replicated to every broker, prints
 * the bootstrap servers on one line of stdout, then reads fault-injection
 * commands from stdin, one a line, answering "ok" or "error: ..." to each:
 *
 *   down B | up B              broker B (1..BROKERS) refuses / takes connections
 *   leader P B                 broker B leads partition P from now on
 *   errors API N CODE          the next N requests of API (produce, fetch,
 *                              metadata, or a number) fail with CODE (a name
 *                              as rd_kafka_err2name gives it, e.g.
 *                              NOT_LEADER_OR_FOLLOWER, or a number)
 *   rtt B MS                   broker B answers MS later
 *   topic NAME P               create another topic, with P partitions
 *   produce P [*N] TEXT        append TEXT (the rest of the line; N times over with
 *                              *N) to partition P of TOPIC, as another producer on
 *                              the topic would: a message that is not a packed record
 *   quit                       exit
 *
 * At the end of stdin it stays up until SIGTERM or SIGINT.
 *
 * With SF_TEST_KAFKA_MOCK_DEBUG=1 in the environment, librdkafka's "mock"
 * debug lines go to stderr: one "Log append TOPIC [P] N messages, B bytes
 * at offset O (log now S..E ...)" per stored batch, the evidence a failed
 * test keeps (tests/integration/kafka.sh) of what the brokers really hold.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int api_key(const char *s)
{
    if (strcmp(s, "produce") == 0)
        return 0;
    if (strcmp(s, "fetch") == 0)
        return 1;
    if (strcmp(s, "metadata") == 0)
        return 3;
    return atoi(s);
}

/* An error code by its name (without "RD_KAFKA_RESP_ERR_") or number. */
static int error_code(const char *s, rd_kafka_resp_err_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    for (int c = -200; c < 200; c++)
        if (strcmp(rd_kafka_err2name((rd_kafka_resp_err_t)c), s) == 0) {
            *out = (rd_kafka_resp_err_t)c;
            return 0;
        }
    return -1;
}

static rd_kafka_t *producer; /* "produce": made on first use */
static rd_kafka_resp_err_t delivered = RD_KAFKA_RESP_ERR__TIMED_OUT;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    delivered = m->err;
}

/* "produce P [*N] TEXT": TEXT (up to the line's end, N times over) to
 * partition P, through a producer of our own (made on first use) that
 * waits for its delivery. */
static rd_kafka_resp_err_t produce(rd_kafka_mock_cluster_t *mc, const char *topic, char *line)
{
    char msg[512];
    int part, at = 0, times = 1, more = 0;
    if (sscanf(line, "produce %d %n", &part, &at) != 1 || at == 0)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (sscanf(line + at, "*%d %n", &times, &more) == 1 && more > 0)
        at += more;
    line[strcspn(line, "\n")] = '\0';
    size_t len = strlen(line + at);
    if (times < 1 || times > 100000)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    if (!producer) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), msg,
                          sizeof msg);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        if (!(producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof msg)))
            return RD_KAFKA_RESP_ERR__FAIL;
    }
    char *text = malloc(len * (size_t)times + 1);
    for (int i = 0; text && i < times; i++)
        memcpy(text + len * (size_t)i, line + at, len);
    delivered = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_resp_err_t e =
        !text ? RD_KAFKA_RESP_ERR__FAIL
              : rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                  RD_KAFKA_V_VALUE(text, len * (size_t)times),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    free(text);
    if (e)
        return e;
    rd_kafka_flush(producer, 10000);
    return delivered;
}

static const char *command(rd_kafka_mock_cluster_t *mc, const char *topic, char *line)
{
    char verb[32] = "", a[64] = "", b[64] = "", c[64] = "";
    int n = sscanf(line, "%31s %63s %63s %63s", verb, a, b, c);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (n < 1)
        return NULL;
    if (strcmp(verb, "down") == 0 && n == 2)
        e = rd_kafka_mock_broker_set_down(mc, atoi(a));
    else if (strcmp(verb, "up") == 0 && n == 2)
        e = rd_kafka_mock_broker_set_up(mc, atoi(a));
    else if (strcmp(verb, "leader") == 0 && n == 3)
        e = rd_kafka_mock_partition_set_leader(mc, topic, atoi(a), atoi(b));
    else if (strcmp(verb, "topic") == 0 && n == 3)
        e = rd_kafka_mock_topic_create(mc, a, atoi(b), 3);
    else if (strcmp(verb, "rtt") == 0 && n == 3)
        e = rd_kafka_mock_broker_set_rtt(mc, atoi(a), atoi(b));
    else if (strcmp(verb, "errors") == 0 && n == 4) {
        rd_kafka_resp_err_t code;
        size_t cnt = (size_t)atol(b);
        if (error_code(c, &code) < 0 || cnt == 0 || cnt > 10000)
            return "error: errors API N CODE (a known error name or number, 1 <= N <= 10000)";
        rd_kafka_resp_err_t *codes = malloc(cnt * sizeof *codes);
        for (size_t i = 0; codes && i < cnt; i++)
            codes[i] = code;
        if (codes)
            rd_kafka_mock_push_request_errors_array(mc, (int16_t)api_key(a), cnt, codes);
        free(codes);
    } else if (strcmp(verb, "produce") == 0 && n >= 3) {
        e = produce(mc, topic, line);
    } else if (strcmp(verb, "quit") == 0) {
        stop = 1;
    } else {
        return "error: down B | up B | leader P B | errors API N CODE | rtt B MS | topic NAME P | "
               "produce P TEXT | quit";
    }
    return e ? rd_kafka_err2str(e) : "ok";
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: sf_test_kafka_mock TOPIC PARTITIONS [BROKERS]\n");
        return 2;
    }
    int parts = atoi(argv[2]), brokers = argc == 4 ? atoi(argv[3]) : 3;
    char msg[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", msg, sizeof msg);
    const char *debug = getenv("SF_TEST_KAFKA_MOCK_DEBUG");
    if (debug && strcmp(debug, "1") == 0 &&
        (rd_kafka_conf_set(conf, "log_level", "7", msg, sizeof msg) != RD_KAFKA_CONF_OK ||
         rd_kafka_conf_set(conf, "debug", "mock", msg, sizeof msg) != RD_KAFKA_CONF_OK)) {
        fprintf(stderr, "sf_test_kafka_mock: %s\n", msg);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, msg, sizeof msg);
    if (!rk) {
        fprintf(stderr, "sf_test_kafka_mock: %s\n", msg);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc || rd_kafka_mock_topic_create(mc, argv[1], parts, brokers) != 0) {
        fprintf(stderr, "sf_test_kafka_mock: cannot start the cluster or create the topic\n");
        return 1;
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    struct sigaction sa = {0}; /* no SA_RESTART: a signal ends the wait on stdin */
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char line[512];
    while (!stop && fgets(line, sizeof line, stdin)) {
        const char *answer = command(mc, argv[1], line);
        if (answer) {
            printf("%s\n", answer);
            fflush(stdout);
        }
    }
    while (!stop)
        pause();
    if (producer)
        rd_kafka_destroy(producer);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
