/* api_status.c - JSON bodies and Kubernetes Status errors (kind: Status, status: Failure). */
#include "api_internal.h"
#include "podspec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_respond_json(api_conn *c, int code, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        static const char oom[] =
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
            "\"message\":\"cannot encode the response\",\"code\":500}";
        api_respond(c, 500, "application/json", NULL, oom, sizeof(oom) - 1);
        return;
    }
    api_respond(c, code, "application/json", NULL, text, strlen(text));
    free(text);
}

void api_respond_status(api_conn *c, int code, const char *extra_headers, const char *reason,
                        const char *fmt, ...)
{
    char msg[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *j = podspec_status_error_json(code, reason, msg);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        abort(); /* cJSON fails only when out of memory */
    api_respond(c, code, "application/json", extra_headers, text, strlen(text));
    free(text);
}

void api_respond_mkerr(api_conn *c, const mk_err *err)
{
    int code = 500;
    const char *reason = "InternalError";
    switch (err->code) {
    case ENOENT:
        code = 404, reason = "NotFound";
        break;
    case EINVAL:
    case ERANGE:
        code = 400, reason = "BadRequest";
        break;
    case EPERM:
    case EACCES:
        code = 403, reason = "Forbidden";
        break;
    case EBUSY:
        code = 409, reason = "Conflict";
        break;
    default:
        break;
    }
    api_respond_status(c, code, NULL, reason, "%s", err->msg[0] ? err->msg : strerror(err->code));
}
