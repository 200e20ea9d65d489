/* caclient: the load generator of the iochost benchmarks, a thin layer over EPICS' libca.
 *
 * Every mode prints one JSON object on stdout (modes that need a start signal first print a
 * line "READY ..." and then read one line from stdin).  The client does as little as it can
 * per operation so that what is measured is the server, not the client.
 *
 *   connect  PATTERN N TIMEOUT                  search + create N channels
 *   get      PATTERN N SECONDS MAX_ROUNDS       rounds of N outstanding DBR_DOUBLE gets
 *   put      PATTERN N SECONDS MAX_ROUNDS       rounds of N outstanding puts with completion
 *   waveform NAME SECONDS MAX_ROUNDS            whole-array DBR_DOUBLE gets of one PV
 *   trigger  NAME VALUE TIMEOUT                 one put with completion
 *   monitor  FAST COUNT TIMEOUT LATE_TIMEOUT    one subscriber of a PV posted flat out
 *   display  PATTERN NPV NCTX SECONDS TIMEOUT   NCTX circuits each watching NPV PVs
 *
 * PATTERN is a printf format with one integer conversion, e.g. "BENCH:S%06d".
 * The environment (EPICS_CA_*) chooses the server; the harness keeps it on loopback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cadef.h>
#include <epicsEvent.h>
#include <epicsThread.h>

#define EPICS_EPOCH_UNIX 631152000.0

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fail(const char *what, int status)
{
    printf("{\"error\": \"%s: %s\"}\n", what, ca_message(status));
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: caclient connect|get|put|waveform|trigger|monitor|display ARGS "
                    "(see caclient.c)\n");
    exit(64);
}

static void start_context(void)
{
    int status = ca_context_create(ca_enable_preemptive_callback);
    if (status != ECA_NORMAL)
        fail("ca_context_create", status);
}

/* Create n channels named by pattern and wait (ca_pend_io) until all are connected or the
 * timeout passes.  Returns how many connected. */
static int connect_channels(const char *pattern, int n, chid *chids, double timeout)
{
    char name[128];
    int i, connected = 0;
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, pattern, i);
        int status = ca_create_channel(name, NULL, NULL, CA_PRIORITY_DEFAULT, &chids[i]);
        if (status != ECA_NORMAL)
            fail("ca_create_channel", status);
    }
    ca_pend_io(timeout);
    for (i = 0; i < n; i++)
        connected += ca_state(chids[i]) == cs_conn;
    return connected;
}

static int mode_connect(const char *pattern, int n, double timeout)
{
    chid *chids = calloc(n, sizeof *chids);
    start_context();
    double t0 = monotonic();
    int connected = connect_channels(pattern, n, chids, timeout);
    double seconds = monotonic() - t0;
    printf("{\"channels\": %d, \"connected\": %d, \"seconds\": %.6f, \"rate\": %.1f}\n",
           n, connected, seconds, connected == n ? n / seconds : 0.0);
    return connected == n ? 0 : 1;
}

static int mode_get(const char *pattern, int n, double seconds, long max_rounds)
{
    chid *chids = calloc(n, sizeof *chids);
    double *values = calloc(n, sizeof *values);
    long rounds = 0;
    int i, status = ECA_NORMAL;
    start_context();
    if (connect_channels(pattern, n, chids, 60.0) != n)
        fail("connect", ECA_TIMEOUT);
    double t0 = monotonic(), elapsed = 0.0;
    while (rounds < max_rounds && elapsed < seconds) {
        for (i = 0; i < n; i++)
            ca_array_get(DBR_DOUBLE, 1, chids[i], &values[i]);
        status = ca_pend_io(30.0);
        if (status != ECA_NORMAL)
            break;
        rounds++;
        elapsed = monotonic() - t0;
    }
    printf("{\"ops\": %ld, \"seconds\": %.6f, \"rate\": %.1f, \"outstanding\": %d, "
           "\"status\": \"%s\"}\n",
           rounds * n, elapsed, rounds * n / elapsed, n, ca_message(status));
    return status == ECA_NORMAL ? 0 : 1;
}

/* Puts with completion: callbacks arrive on libca's threads; the last one of a round wakes
 * the main thread. */
static struct {
    int expected;
    int done;
    int failed;
    epicsEventId round_done;
} putstate;

static void put_done(struct event_handler_args args)
{
    if (args.status != ECA_NORMAL)
        __atomic_add_fetch(&putstate.failed, 1, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&putstate.done, 1, __ATOMIC_ACQ_REL) == putstate.expected)
        epicsEventSignal(putstate.round_done);
}

static int mode_put(const char *pattern, int n, double seconds, long max_rounds)
{
    chid *chids = calloc(n, sizeof *chids);
    long rounds = 0;
    int i, timed_out = 0;
    double value = 0.0;
    start_context();
    if (connect_channels(pattern, n, chids, 60.0) != n)
        fail("connect", ECA_TIMEOUT);
    putstate.round_done = epicsEventMustCreate(epicsEventEmpty);
    putstate.expected = n;
    double t0 = monotonic(), elapsed = 0.0;
    while (rounds < max_rounds && elapsed < seconds) {
        __atomic_store_n(&putstate.done, 0, __ATOMIC_RELEASE);
        value += 1.0;
        for (i = 0; i < n; i++)
            ca_array_put_callback(DBR_DOUBLE, 1, chids[i], &value, put_done, NULL);
        ca_flush_io();
        if (epicsEventWaitWithTimeout(putstate.round_done, 30.0) != epicsEventOK) {
            timed_out = 1;
            break;
        }
        rounds++;
        elapsed = monotonic() - t0;
    }
    printf("{\"ops\": %ld, \"seconds\": %.6f, \"rate\": %.1f, \"outstanding\": %d, "
           "\"failed\": %d, \"timed_out\": %s}\n",
           rounds * n, elapsed, rounds * n / elapsed, n, putstate.failed,
           timed_out ? "true" : "false");
    return timed_out || putstate.failed ? 1 : 0;
}

static int mode_waveform(const char *name, double seconds, long max_rounds)
{
    chid ch;
    long rounds = 0;
    int status;
    start_context();
    if (connect_channels(name, 1, &ch, 30.0) != 1)
        fail("connect", ECA_TIMEOUT);
    unsigned long count = ca_element_count(ch);
    double *buf = malloc(count * sizeof *buf);
    double t0 = monotonic(), elapsed = 0.0;
    while (rounds < max_rounds && elapsed < seconds) {
        buf[count - 1] = -1.0;
        ca_array_get(DBR_DOUBLE, count, ch, buf);
        status = ca_pend_io(60.0);
        if (status != ECA_NORMAL)
            fail("ca_pend_io", status);
        rounds++;
        elapsed = monotonic() - t0;
    }
    /* The servers fill the waveform with 0, 1, 2, ...: check the data really arrived. */
    int intact = buf[0] == 0.0 && buf[count - 1] == (double)(count - 1);
    printf("{\"elements\": %lu, \"reads\": %ld, \"seconds\": %.6f, \"mb_per_s\": %.1f, "
           "\"intact\": %s}\n",
           count, rounds, elapsed, rounds * count * 8.0 / elapsed / 1e6,
           intact ? "true" : "false");
    return intact ? 0 : 1;
}

/* The put with completion: returning once a plain put was flushed (ca_pend_io) raced the
 * process's exit against libca's send thread, and under load the put never left. */
static struct {
    epicsEventId done;
    int status;
} trigger;

static void on_trigger_done(struct event_handler_args args)
{
    trigger.status = args.status;
    epicsEventSignal(trigger.done);
}

static int mode_trigger(const char *name, double value, double timeout)
{
    chid ch;
    start_context();
    if (connect_channels(name, 1, &ch, timeout) != 1)
        fail("connect", ECA_TIMEOUT);
    trigger.done = epicsEventMustCreate(epicsEventEmpty);
    int status = ca_array_put_callback(DBR_DOUBLE, 1, ch, &value, on_trigger_done, NULL);
    if (status == ECA_NORMAL) {
        ca_flush_io();
        status = epicsEventWaitWithTimeout(trigger.done, timeout) == epicsEventOK
                 ? trigger.status : ECA_TIMEOUT;
    }
    printf("{\"status\": \"%s\"}\n", ca_message(status));
    ca_context_destroy();
    return status == ECA_NORMAL ? 0 : 1;
}

/* One subscriber of a PV the server posts flat out.  The values are a counter; when the
 * server stops posting it publishes the final counter value on a second PV. */
static struct {
    epicsEventId changed;
    int have_initial;      /* both initial updates seen */
    int armed;             /* set once READY is printed */
    double initial;        /* FAST value before the run */
    double initial_count;
    double final;          /* COUNT value published after the run, or -1 */
    long delivered;
    long out_of_order;
    double last_value;
    double first_recv, last_recv, first_stamp, last_stamp;
    int fast_seen, count_seen;
} mon;

static void on_fast(struct event_handler_args args)
{
    const struct dbr_time_double *d = args.dbr;
    double now = wall_clock();
    if (args.status != ECA_NORMAL)
        return;
    if (!__atomic_load_n(&mon.armed, __ATOMIC_ACQUIRE)) {
        mon.initial = d->value;
        mon.last_value = d->value;
        mon.fast_seen = 1;
    } else {
        if (mon.delivered == 0) {
            mon.first_recv = now;
            mon.first_stamp = d->stamp.secPastEpoch + d->stamp.nsec * 1e-9 + EPICS_EPOCH_UNIX;
        }
        mon.delivered++;
        if (d->value <= mon.last_value)
            mon.out_of_order++;
        mon.last_value = d->value;
        mon.last_recv = now;
        mon.last_stamp = d->stamp.secPastEpoch + d->stamp.nsec * 1e-9 + EPICS_EPOCH_UNIX;
    }
    epicsEventSignal(mon.changed);
}

static void on_count(struct event_handler_args args)
{
    if (args.status != ECA_NORMAL)
        return;
    double v = *(const double *)args.dbr;
    if (!__atomic_load_n(&mon.armed, __ATOMIC_ACQUIRE)) {
        mon.initial_count = v;
        mon.count_seen = 1;
    } else if (v != mon.initial_count) {
        mon.final = v;
    }
    epicsEventSignal(mon.changed);
}

static int mode_monitor(const char *fast, const char *count, double timeout, double late_timeout)
{
    chid chids[2];
    evid ev;
    char line[64];
    start_context();
    mon.changed = epicsEventMustCreate(epicsEventEmpty);
    mon.final = -1.0;
    if (connect_channels(fast, 1, &chids[0], timeout) != 1 ||
        connect_channels(count, 1, &chids[1], timeout) != 1)
        fail("connect", ECA_TIMEOUT);
    ca_create_subscription(DBR_TIME_DOUBLE, 1, chids[0], DBE_VALUE, on_fast, NULL, &ev);
    ca_create_subscription(DBR_DOUBLE, 1, chids[1], DBE_VALUE, on_count, NULL, &ev);
    ca_flush_io();
    double deadline = monotonic() + timeout;
    while (!(mon.fast_seen && mon.count_seen) && monotonic() < deadline)
        epicsEventWaitWithTimeout(mon.changed, 0.1);
    if (!(mon.fast_seen && mon.count_seen))
        fail("initial updates", ECA_TIMEOUT);
    __atomic_store_n(&mon.armed, 1, __ATOMIC_SEQ_CST);   /* nothing is posted until the trigger */
    printf("READY\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        return 3;
    /* The harness triggers the poster now; wait for COUNT, then for the final value. */
    deadline = monotonic() + timeout;
    while (mon.final < 0 && monotonic() < deadline)
        epicsEventWaitWithTimeout(mon.changed, 0.05);
    double final_known = monotonic();
    deadline = final_known + late_timeout;
    while (mon.final >= 0 && mon.last_value != mon.final && monotonic() < deadline)
        epicsEventWaitWithTimeout(mon.changed, 0.05);
    int final_delivered = mon.final >= 0 && mon.last_value == mon.final;
    double posted = mon.final >= 0 ? mon.final - mon.initial : 0;
    double span = mon.last_recv - mon.first_recv;
    printf("{\"posted\": %.0f, \"delivered\": %ld, \"fraction\": %.6f, "
           "\"delivered_per_s\": %.1f, \"posted_per_s\": %.1f, \"final_delivered\": %s, "
           "\"final_late_ms\": %.3f, \"out_of_order\": %ld, \"receive_span_s\": %.6f}\n",
           posted, mon.delivered, posted > 0 ? mon.delivered / posted : 0.0,
           span > 0 ? mon.delivered / span : 0.0,
           mon.last_stamp > mon.first_stamp ? posted / (mon.last_stamp - mon.first_stamp) : 0.0,
           final_delivered ? "true" : "false",
           final_delivered ? (mon.last_recv - mon.last_stamp) * 1e3 : -1.0,
           mon.out_of_order, span);
    return final_delivered ? 0 : 1;
}

/* The classic display load: each of NCTX threads owns a CA context (its own TCP circuit)
 * and watches NPV PVs that the server updates at a fixed rate with a shared tick counter.
 * A gap in a PV's counter sequence is a lost update; an update's age is its arrival minus
 * its server time stamp (the same clock on loopback). */
struct watcher {
    const char *pattern;
    int npv;
    double timeout;
    int connected;
    long delivered;        /* callbacks are serialised per context: plain counters */
    long lost;
    double *last;          /* last value per PV */
    char *seen;            /* per PV: its initial update has arrived */
    double max_age;        /* seconds: the oldest update received while counting */
    long stale;            /* updates older than STALE_AGE when they arrived */
};

#define STALE_AGE 0.2

static struct {
    epicsEventId ready, finish;
    int counting;
    int nready;
} disp;

static void on_display(struct event_handler_args args)
{
    struct watcher *w = ca_puser(args.chid);
    long i = (long)args.usr;
    if (args.status != ECA_NORMAL)
        return;
    const struct dbr_time_double *d = args.dbr;
    double v = d->value;
    if (!w->seen[i]) {
        /* The subscription's initial update carries the value's own time stamp (zero,
         * i.e. 1990, on a record never processed), not a posted update's: neither counted
         * nor timed, even when a backed-up server delivers it inside the window. */
        w->seen[i] = 1;
        w->last[i] = v;
        return;
    }
    if (__atomic_load_n(&disp.counting, __ATOMIC_ACQUIRE)) {
        double age = wall_clock() -
                     (d->stamp.secPastEpoch + d->stamp.nsec * 1e-9 + EPICS_EPOCH_UNIX);
        w->delivered++;
        if (v > w->last[i] + 1.0)
            w->lost += (long)(v - w->last[i] - 1.0);
        if (age > w->max_age)
            w->max_age = age;
        if (age > STALE_AGE)
            w->stale++;
    }
    w->last[i] = v;
}

static void watcher_thread(void *arg)
{
    struct watcher *w = arg;
    chid *chids = calloc(w->npv, sizeof *chids);
    evid ev;
    int i;
    start_context();
    w->connected = connect_channels(w->pattern, w->npv, chids, w->timeout);
    for (i = 0; i < w->npv; i++) {
        if (ca_state(chids[i]) != cs_conn)
            continue;
        ca_set_puser(chids[i], w);
        ca_create_subscription(DBR_TIME_DOUBLE, 1, chids[i], DBE_VALUE, on_display,
                               (void *)(long)i, &ev);
    }
    ca_flush_io();
    __atomic_add_fetch(&disp.nready, 1, __ATOMIC_ACQ_REL);
    epicsEventSignal(disp.ready);
    epicsEventMustWait(disp.finish);   /* never signalled: main() exits the process */
}

static int mode_display(const char *pattern, int npv, int nctx, double seconds, double timeout)
{
    struct watcher *ws = calloc(nctx, sizeof *ws);
    char line[64];
    int i, connected = 0;
    disp.ready = epicsEventMustCreate(epicsEventEmpty);
    disp.finish = epicsEventMustCreate(epicsEventEmpty);
    double t0 = monotonic();
    for (i = 0; i < nctx; i++) {
        ws[i] = (struct watcher){pattern, npv, timeout, 0, 0, 0, calloc(npv, sizeof(double)),
                                 calloc(npv, 1), 0.0, 0};
        epicsThreadCreate("watcher", epicsThreadPriorityMedium,
                          epicsThreadGetStackSize(epicsThreadStackSmall), watcher_thread, &ws[i]);
    }
    while (__atomic_load_n(&disp.nready, __ATOMIC_ACQUIRE) < nctx &&
           monotonic() - t0 < timeout + 5.0)
        epicsEventWaitWithTimeout(disp.ready, 0.1);
    for (i = 0; i < nctx; i++)
        connected += ws[i].connected;
    printf("READY {\"connected\": %d, \"channels\": %d, \"connect_seconds\": %.3f}\n",
           connected, npv * nctx, monotonic() - t0);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        return 3;
    epicsThreadSleep(0.5);             /* let the initial updates drain */
    double start = monotonic();
    __atomic_store_n(&disp.counting, 1, __ATOMIC_RELEASE);
    epicsThreadSleep(seconds);
    __atomic_store_n(&disp.counting, 0, __ATOMIC_RELEASE);
    double span = monotonic() - start;
    long delivered = 0, lost = 0, stale = 0;
    double max_age = 0.0;
    for (i = 0; i < nctx; i++) {
        delivered += ws[i].delivered;
        lost += ws[i].lost;
        stale += ws[i].stale;
        if (ws[i].max_age > max_age)
            max_age = ws[i].max_age;
    }
    printf("{\"clients\": %d, \"pvs_per_client\": %d, \"connected\": %d, \"delivered\": %ld, "
           "\"lost\": %ld, \"seconds\": %.3f, \"delivered_per_s\": %.1f, "
           "\"max_age_ms\": %.1f, \"stale\": %ld}\n",
           nctx, npv, connected, delivered, lost, span, delivered / span, max_age * 1e3, stale);
    fflush(stdout);
    _exit(0);                          /* 100 contexts tear down slowly; nothing left to do */
}

int main(int argc, char **argv)
{
    /* Die with the harness, however it dies: no client lingers on this shared machine. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    if (!strcmp(mode, "connect") && argc == 5)
        return mode_connect(argv[2], atoi(argv[3]), atof(argv[4]));
    if (!strcmp(mode, "get") && argc == 6)
        return mode_get(argv[2], atoi(argv[3]), atof(argv[4]), atol(argv[5]));
    if (!strcmp(mode, "put") && argc == 6)
        return mode_put(argv[2], atoi(argv[3]), atof(argv[4]), atol(argv[5]));
    if (!strcmp(mode, "waveform") && argc == 5)
        return mode_waveform(argv[2], atof(argv[3]), atol(argv[4]));
    if (!strcmp(mode, "trigger") && argc == 5)
        return mode_trigger(argv[2], atof(argv[3]), atof(argv[4]));
    if (!strcmp(mode, "monitor") && argc == 6)
        return mode_monitor(argv[2], argv[3], atof(argv[4]), atof(argv[5]));
    if (!strcmp(mode, "display") && argc == 7)
        return mode_display(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atof(argv[6]));
    usage();
    return 64;
}
