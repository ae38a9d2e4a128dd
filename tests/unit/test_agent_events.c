/* test_agent_events.c - the Event ring: bound, counting of identical events, combining of
 * similar ones, namespace and field-selector filtering, bad selectors, and the JSON served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent.h"
#include "events.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC  1000000000LL
#define T0   (1700000000LL * SEC) /* 2023-11-14T22:13:20Z */
#define NODE "edge-1"

static const agent_event_obj web = {"default", "web-edge-1", "uid-web", "spec.containers{app}"};
static const agent_event_obj web_pod = {"default", "web-edge-1", "uid-web", NULL};
static const agent_event_obj dns = {"kube-system", "dns-edge-1", "uid-dns", "spec.containers{dns}"};

static int setup(void **state)
{
    *state = agent_events_new(AGENT_EVENTS_DEFAULT_CAPACITY, NODE);
    return 0;
}

static int teardown(void **state)
{
    agent_events_free(*state);
    return 0;
}

/* ---- helpers ---- */

static cJSON *list(const agent_events *ev, const char *ns, const char *sel)
{
    mk_err err = {0};
    cJSON *j = agent_events_list(ev, ns, sel, &err);
    if (!j)
        fail_msg("selector \"%s\" refused: %s", sel ? sel : "", err.msg);
    return j;
}

static cJSON *items(cJSON *l)
{
    return cJSON_GetObjectItemCaseSensitive(l, "items");
}

static const char *str(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    if (!cJSON_IsString(cur))
        fail_msg("%s is not a string", path);
    return cur->valuestring;
}

static int num(const cJSON *o, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(n))
        fail_msg("%s is not a number", key);
    return n->valueint;
}

/* How many events a selector lets through (over all namespaces). */
static int count_sel(const agent_events *ev, const char *sel)
{
    cJSON *l = list(ev, NULL, sel);
    int n = cJSON_GetArraySize(items(l));
    cJSON_Delete(l);
    return n;
}

static void assert_refused(const agent_events *ev, const char *sel, const char *want_msg)
{
    mk_err err = {0};
    cJSON *j = agent_events_list(ev, NULL, sel, &err);
    if (j)
        fail_msg("selector \"%s\" was accepted", sel);
    assert_int_equal(err.code, EINVAL);
    if (!strstr(err.msg, want_msg))
        fail_msg("selector \"%s\": message \"%s\" lacks \"%s\"", sel, err.msg, want_msg);
}

static void assert_matches(const char *re, const char *s)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    int m = regexec(&r, s, 0, NULL, 0);
    regfree(&r);
    if (m != 0)
        fail_msg("\"%s\" does not match /%s/", s, re);
}

/* ---- the ring ---- */

static void test_ring_bound(void **state)
{
    (void)state;
    agent_events *ev = agent_events_new(3, NODE);
    const char *reasons[] = {"R1", "R2", "R3", "R4", "R5"};
    for (int i = 0; i < 5; i++)
        agent_events_add(ev, &web, false, reasons[i], T0 + i * SEC, "event %d", i);
    assert_int_equal(agent_events_count(ev), 3);
    cJSON *l = list(ev, NULL, NULL);
    assert_int_equal(cJSON_GetArraySize(items(l)), 3);
    /* the oldest went; the rest stay oldest first */
    for (int i = 0; i < 3; i++)
        assert_string_equal(str(cJSON_GetArrayItem(items(l), i), "reason"), reasons[i + 2]);
    cJSON_Delete(l);

    /* a repeat of a held event takes no slot and moves to the end */
    agent_events_add(ev, &web, false, "R3", T0 + 10 * SEC, "event %d", 2);
    assert_int_equal(agent_events_count(ev), 3);
    l = list(ev, NULL, NULL);
    assert_string_equal(str(cJSON_GetArrayItem(items(l), 0), "reason"), "R4");
    assert_string_equal(str(cJSON_GetArrayItem(items(l), 2), "reason"), "R3");
    cJSON_Delete(l);
    agent_events_free(ev);

    /* the smallest ring holds the newest event */
    ev = agent_events_new(1, NODE);
    agent_events_add(ev, &web, false, "A", T0, "a");
    agent_events_add(ev, &dns, true, "B", T0, "b");
    assert_int_equal(agent_events_count(ev), 1);
    assert_int_equal(count_sel(ev, "reason=B"), 1);
    agent_events_free(ev);
}

static void test_identical_events_counted(void **state)
{
    agent_events *ev = *state;
    agent_events_add(ev, &web, true, "BackOff", T0, "Back-off restarting failed container %s",
                     "app");
    agent_events_add(ev, &web, false, "Pulled", T0 + SEC, "Container image \"x\" present");
    cJSON *l = list(ev, NULL, NULL);
    cJSON *first = cJSON_Duplicate(cJSON_GetArrayItem(items(l), 0), true);
    cJSON_Delete(l);

    agent_events_add(ev, &web, true, "BackOff", T0 + 70 * SEC,
                     "Back-off restarting failed container %s", "app");
    assert_int_equal(agent_events_count(ev), 2);
    l = list(ev, NULL, NULL);
    cJSON *a = cJSON_GetArrayItem(items(l), 0), *b = cJSON_GetArrayItem(items(l), 1);
    assert_string_equal(str(a, "reason"), "Pulled"); /* the counted one is newest now */
    assert_string_equal(str(b, "reason"), "BackOff");
    assert_int_equal(num(b, "count"), 2);
    assert_string_equal(str(b, "firstTimestamp"), "2023-11-14T22:13:20Z");
    assert_string_equal(str(b, "lastTimestamp"), "2023-11-14T22:14:30Z");
    assert_string_equal(str(b, "metadata.creationTimestamp"), "2023-11-14T22:13:20Z");
    /* the same object: name and uid stay, the resourceVersion moves on */
    assert_string_equal(str(b, "metadata.name"), str(first, "metadata.name"));
    assert_string_equal(str(b, "metadata.uid"), str(first, "metadata.uid"));
    assert_true(strtoull(str(b, "metadata.resourceVersion"), NULL, 10) >
                strtoull(str(first, "metadata.resourceVersion"), NULL, 10));
    assert_string_equal(str(l, "metadata.resourceVersion"), str(b, "metadata.resourceVersion"));
    cJSON_Delete(first);
    cJSON_Delete(l);
}

static void test_different_events_kept_apart(void **state)
{
    agent_events *ev = *state;
    agent_events_add(ev, &web, false, "Started", T0, "Started container app");
    agent_events_add(ev, &web_pod, false, "Started", T0, "Started container app"); /* no path */
    agent_events_add(ev, &web, true, "Started", T0, "Started container app");      /* type */
    agent_events_add(ev, &web, false, "Created", T0, "Started container app");     /* reason */
    agent_event_obj other_uid = web;
    other_uid.uid = "uid-web-2";
    agent_events_add(ev, &other_uid, false, "Started", T0, "Started container app");
    agent_events_add(ev, &dns, false, "Started", T0, "Started container app");
    assert_int_equal(agent_events_count(ev), 6);

    /* every event has its own name, even when recorded in the same nanosecond */
    cJSON *l = list(ev, NULL, NULL);
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++)
            assert_string_not_equal(str(cJSON_GetArrayItem(items(l), i), "metadata.name"),
                                    str(cJSON_GetArrayItem(items(l), j), "metadata.name"));
    cJSON_Delete(l);
}

static void test_similar_events_combined(void **state)
{
    agent_events *ev = *state;
    /* nine different messages are nine events; from the tenth on they are combined */
    for (int i = 1; i <= 12; i++)
        agent_events_add(ev, &web, true, "Failed", T0 + i * SEC, "Error: attempt %d", i);
    assert_int_equal(agent_events_count(ev), 10);
    cJSON *l = list(ev, NULL, NULL);
    assert_string_equal(str(cJSON_GetArrayItem(items(l), 8), "message"), "Error: attempt 9");
    cJSON *c = cJSON_GetArrayItem(items(l), 9);
    assert_string_equal(str(c, "message"), "(combined from similar events): Error: attempt 12");
    assert_int_equal(num(c, "count"), 3);
    assert_string_equal(str(c, "firstTimestamp"), "2023-11-14T22:13:30Z");
    assert_string_equal(str(c, "lastTimestamp"), "2023-11-14T22:13:32Z");
    cJSON_Delete(l);

    /* another reason is not similar */
    agent_events_add(ev, &web, true, "BackOff", T0 + 13 * SEC, "Back-off");
    assert_int_equal(count_sel(ev, "reason=BackOff"), 1);

    /* after ten quiet minutes a new message is an event of its own again */
    agent_events_add(ev, &web, true, "Failed", T0 + 12 * SEC + 601 * SEC, "Error: later");
    l = list(ev, NULL, "reason=Failed");
    cJSON *last = cJSON_GetArrayItem(items(l), cJSON_GetArraySize(items(l)) - 1);
    assert_string_equal(str(last, "message"), "Error: later");
    assert_int_equal(num(last, "count"), 1);
    cJSON_Delete(l);
    assert_int_equal(agent_events_count(ev), 12);
}

static void test_message_truncated(void **state)
{
    agent_events *ev = *state;
    char big[1100];
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    agent_events_add(ev, &web, true, "Failed", T0, "%s", big);
    /* 1023 ASCII bytes then a two-byte character that would straddle the limit */
    char utf[1100];
    memset(utf, 'y', 1023);
    strcpy(utf + 1023, "\xc3\xa9tail");
    agent_events_add(ev, &web, true, "Other", T0, "%s", utf);
    cJSON *l = list(ev, NULL, NULL);
    assert_int_equal(strlen(str(cJSON_GetArrayItem(items(l), 0), "message")), 1024);
    assert_int_equal(strlen(str(cJSON_GetArrayItem(items(l), 1), "message")), 1023);
    cJSON_Delete(l);
}

/* ---- filtering ---- */

static void add_sample(agent_events *ev)
{
    agent_events_add(ev, &web, false, "Pulled", T0, "Container image \"nginx\" present");
    agent_events_add(ev, &web, false, "Started", T0 + SEC, "Started container app");
    agent_events_add(ev, &web_pod, true, "FailedCreatePodSandBox", T0 + 2 * SEC, "no network");
    agent_events_add(ev, &dns, true, "BackOff", T0 + 3 * SEC, "Back-off restarting");
}

static void test_namespace_filter(void **state)
{
    agent_events *ev = *state;
    add_sample(ev);
    cJSON *l = list(ev, "kube-system", NULL);
    assert_int_equal(cJSON_GetArraySize(items(l)), 1);
    assert_string_equal(str(cJSON_GetArrayItem(items(l), 0), "involvedObject.name"), "dns-edge-1");
    cJSON_Delete(l);
    l = list(ev, "default", "");
    assert_int_equal(cJSON_GetArraySize(items(l)), 3);
    cJSON_Delete(l);
    l = list(ev, "nowhere", NULL);
    assert_int_equal(cJSON_GetArraySize(items(l)), 0);
    cJSON_Delete(l);
    /* namespace and selector together */
    l = list(ev, "default", "type=Warning");
    assert_int_equal(cJSON_GetArraySize(items(l)), 1);
    cJSON_Delete(l);
}

static void test_selector_fields(void **state)
{
    agent_events *ev = *state;
    add_sample(ev);
    cJSON *l = list(ev, NULL, NULL);
    cJSON_bool ok = cJSON_IsArray(items(l));
    assert_true(ok);
    char sel[160];
    snprintf(sel, sizeof(sel), "metadata.name=%s",
             str(cJSON_GetArrayItem(items(l), 1), "metadata.name"));
    cJSON_Delete(l);
    assert_int_equal(count_sel(ev, sel), 1);

    struct {
        const char *sel;
        int n;
    } cases[] = {
        {"metadata.namespace=default", 3},
        {"involvedObject.namespace=kube-system", 1},
        {"involvedObject.kind=Pod", 4},
        {"involvedObject.kind=Node", 0},
        {"involvedObject.name=web-edge-1", 3},
        {"involvedObject.uid=uid-dns", 1},
        {"involvedObject.apiVersion=v1", 4},
        {"involvedObject.resourceVersion=", 4},
        {"involvedObject.fieldPath=spec.containers{app}", 2},
        {"involvedObject.fieldPath=", 1}, /* the pod itself */
        {"reason=Started", 1},
        {"type=Warning", 2},
        {"type=Normal", 2},
        {"source=kubelet", 4},
        {"reportingComponent=kubelet", 4},
        /* operators */
        {"reason==Started", 1},
        {"reason!=Started", 3},
        {"type!=Warning,type!=Normal", 0},
        /* terms all hold; empty terms are ignored */
        {"involvedObject.name=web-edge-1,involvedObject.namespace=default,type=Normal", 2},
        {"involvedObject.name=web-edge-1,,reason=Pulled,", 1},
        {",", 4},
        {"reason=started", 0}, /* case matters */
        /* kubectl describe's selector */
        {"involvedObject.name=dns-edge-1,involvedObject.namespace=kube-system,involvedObject.uid="
         "uid-dns",
         1},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(cases); i++) {
        int n = count_sel(ev, cases[i].sel);
        if (n != cases[i].n)
            fail_msg("selector \"%s\": %d events, want %d", cases[i].sel, n, cases[i].n);
    }
}

static void test_selector_escapes(void **state)
{
    agent_events *ev = *state;
    agent_events_add(ev, &web, true, "Odd", T0, "m");
    agent_event_obj odd = {"default", "a,b=c\\d", "uid-odd", NULL};
    agent_events_add(ev, &odd, true, "Odd", T0, "m");
    assert_int_equal(count_sel(ev, "involvedObject.name=a\\,b\\=c\\\\d"), 1);
    assert_int_equal(count_sel(ev, "involvedObject.name!=a\\,b\\=c\\\\d,reason=Odd"), 1);
}

static void test_bad_selectors(void **state)
{
    agent_events *ev = *state;
    add_sample(ev);
    assert_refused(ev, "foo=bar", "field label not supported: foo");
    assert_refused(ev, "involvedObject.name=x,spec.nodeName=y",
                   "field label not supported: spec.nodeName");
    assert_refused(ev, "=x", "field label not supported: ");
    assert_refused(ev, "reason", "invalid selector: 'reason'; can't understand 'reason'");
    assert_refused(ev, "reason=a,type", "can't understand 'type'");
    assert_refused(ev, "reason in (a)", "can't understand");
    assert_refused(ev, "reason=a=b", "unescaped character in value: =");
    assert_refused(ev, "reason=a\\x", "invalid escape sequence: \\x");
    assert_refused(ev, "reason=a\\", "invalid escape sequence");
    assert_refused(ev, "involvedObject.name =x", "field label not supported: involvedObject.name ");
    /* a refused list leaves the ring as it was */
    assert_int_equal(agent_events_count(ev), 4);
}

/* ---- JSON ---- */

static void test_json_shape(void **state)
{
    agent_events *ev = *state;
    agent_events_add(ev, &web, false, "Started", T0 + 500000000LL, "Started container %s", "app");
    agent_events_add(ev, &web_pod, true, "FailedCreatePodSandBox", T0, "no network");
    cJSON *l = list(ev, NULL, NULL);
    assert_string_equal(str(l, "apiVersion"), "v1");
    assert_string_equal(str(l, "kind"), "EventList");
    assert_matches("^[0-9]+$", str(l, "metadata.resourceVersion"));
    cJSON *e = cJSON_GetArrayItem(items(l), 0);
    assert_string_equal(str(e, "apiVersion"), "v1");
    assert_string_equal(str(e, "kind"), "Event");
    assert_matches("^web-edge-1\\.[0-9a-f]{16}$", str(e, "metadata.name"));
    assert_string_equal(str(e, "metadata.namespace"), "default");
    assert_matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                   str(e, "metadata.uid"));
    assert_matches("^[0-9]+$", str(e, "metadata.resourceVersion"));
    assert_string_equal(str(e, "metadata.creationTimestamp"), "2023-11-14T22:13:20Z");
    assert_string_equal(str(e, "involvedObject.kind"), "Pod");
    assert_string_equal(str(e, "involvedObject.namespace"), "default");
    assert_string_equal(str(e, "involvedObject.name"), "web-edge-1");
    assert_string_equal(str(e, "involvedObject.uid"), "uid-web");
    assert_string_equal(str(e, "involvedObject.apiVersion"), "v1");
    assert_string_equal(str(e, "involvedObject.fieldPath"), "spec.containers{app}");
    assert_string_equal(str(e, "reason"), "Started");
    assert_string_equal(str(e, "message"), "Started container app");
    assert_string_equal(str(e, "source.component"), "kubelet");
    assert_string_equal(str(e, "source.host"), NODE);
    assert_string_equal(str(e, "firstTimestamp"), "2023-11-14T22:13:20Z");
    assert_string_equal(str(e, "lastTimestamp"), "2023-11-14T22:13:20Z");
    assert_int_equal(num(e, "count"), 1);
    assert_string_equal(str(e, "type"), "Normal");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "eventTime")));
    assert_string_equal(str(e, "reportingComponent"), "kubelet");
    assert_string_equal(str(e, "reportingInstance"), NODE);

    /* about the pod itself: no fieldPath */
    cJSON *p = cJSON_GetArrayItem(items(l), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(p, "involvedObject"), "fieldPath"));
    assert_string_equal(str(p, "type"), "Warning");
    cJSON_Delete(l);
}

static void test_empty_and_missing_ring(void **state)
{
    agent_events *ev = *state;
    cJSON *l = list(ev, NULL, NULL);
    assert_int_equal(cJSON_GetArraySize(items(l)), 0);
    assert_true(cJSON_IsArray(items(l)));
    cJSON_Delete(l);

    /* the API door: no ring yet is an empty list, and a bad selector is still refused */
    agent a = {0};
    mk_err err = {0};
    l = agent_api_event_list(&a, "default", "reason=x", &err);
    assert_non_null(l);
    assert_int_equal(cJSON_GetArraySize(items(l)), 0);
    assert_string_equal(str(l, "kind"), "EventList");
    cJSON_Delete(l);
    assert_null(agent_api_event_list(&a, NULL, "nope=x", &err));
    assert_int_equal(err.code, EINVAL);

    a.events = ev;
    add_sample(ev);
    l = agent_api_event_list(&a, "default", "involvedObject.fieldPath=", &err);
    assert_int_equal(cJSON_GetArraySize(items(l)), 1);
    cJSON_Delete(l);

    /* recording without a ring, or with a missing object, does nothing */
    agent_events_add(NULL, &web, false, "X", T0, "x");
    agent_event_obj no_uid = {"default", "p", NULL, NULL};
    agent_events_add(ev, &no_uid, false, "X", T0, "x");
    assert_int_equal(count_sel(ev, "involvedObject.uid="), 1);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ring_bound),
        T(test_identical_events_counted),
        T(test_different_events_kept_apart),
        T(test_similar_events_combined),
        T(test_message_truncated),
        T(test_namespace_filter),
        T(test_selector_fields),
        T(test_selector_escapes),
        T(test_bad_selectors),
        T(test_json_shape),
        T(test_empty_and_missing_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
