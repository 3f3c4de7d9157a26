/*
 * The sandbox's JavaScript runner: a WASI preview 1 program around the QuickJS-NG interpreter.
 *
 * It reads everything from standard input: a decimal byte length and a newline, that many bytes of script, and
 * then the input meant for the script. The script runs as a classic script (not a module) in a fresh context with
 * QuickJS's standard intrinsics only; `console`, `print`, `readline()` and the string `stdin` are the only
 * additions, and nothing in it reaches files, the network or the environment. Each console call is written out
 * at once, so what a script printed survives a limit that stops it. An uncaught exception or an unhandled
 * promise rejection is printed to standard error and the exit status is 1; a malformed header exits with 2.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quickjs.h"

/* Rejected promises not (yet) handled, tracked by the host promise rejection tracker. */
#define MAX_REJECTIONS 64
static JSValue rejected_promises[MAX_REJECTIONS];
static JSValue rejected_reasons[MAX_REJECTIONS];
static int rejected_count;

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            return; /* The host refuses more output: what was written is what the caller gets. */
        data += n;
        len -= (size_t)n;
    }
}

static void write_str(int fd, const char *text)
{
    write_all(fd, text, strlen(text));
}

/* Reads standard input to its end; the buffer is NUL-terminated. */
static char *read_all(size_t *out_len)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return NULL;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
        }
        ssize_t n = read(0, buf + len, cap - len);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out_len = len;
    return buf;
}

/* `__write(fd, text)`: fd 1 is standard output, anything else standard error. */
static JSValue js_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    int fd = 2;
    size_t len;
    if (argc < 2 || JS_ToInt32(ctx, &fd, argv[0]) < 0)
        return JS_EXCEPTION;
    const char *text = JS_ToCStringLen(ctx, &len, argv[1]);
    if (!text)
        return JS_EXCEPTION;
    write_all(fd == 1 ? 1 : 2, text, len);
    JS_FreeCString(ctx, text);
    return JS_UNDEFINED;
}

static void track_rejection(JSContext *ctx, JSValueConst promise, JSValueConst reason, bool is_handled,
                            void *opaque)
{
    (void)opaque;
    if (is_handled) {
        for (int i = 0; i < rejected_count; i++) {
            if (JS_IsStrictEqual(ctx, rejected_promises[i], promise)) {
                JS_FreeValue(ctx, rejected_promises[i]);
                JS_FreeValue(ctx, rejected_reasons[i]);
                rejected_count--;
                rejected_promises[i] = rejected_promises[rejected_count];
                rejected_reasons[i] = rejected_reasons[rejected_count];
                return;
            }
        }
    } else if (rejected_count < MAX_REJECTIONS) {
        rejected_promises[rejected_count] = JS_DupValue(ctx, promise);
        rejected_reasons[rejected_count] = JS_DupValue(ctx, reason);
        rejected_count++;
    }
}

/* Prints `prefix` and the value: an error with its stack, anything else as its string form. */
static void print_error(JSContext *ctx, const char *prefix, JSValueConst value)
{
    write_str(2, prefix);
    const char *text = JS_ToCString(ctx, value);
    write_str(2, text ? text : "(an exception that cannot be converted to a string)");
    write_str(2, "\n");
    if (text)
        JS_FreeCString(ctx, text);
    if (JS_IsError(value)) {
        JSValue stack = JS_GetPropertyStr(ctx, value, "stack");
        if (JS_IsString(stack)) {
            const char *trace = JS_ToCString(ctx, stack);
            if (trace) {
                write_str(2, trace);
                JS_FreeCString(ctx, trace);
            }
        }
        JS_FreeValue(ctx, stack);
    }
}

/* Defines console, print, readline and stdin over the native `__write` and `__stdin`, then removes those. */
static const char PRELUDE[] =
    "(function (write, input) {\n"
    "  'use strict';\n"
    "  function show(value, seen) {\n"
    "    switch (typeof value) {\n"
    "      case 'string': return value;\n"
    "      case 'bigint': return value + 'n';\n"
    "      case 'symbol': return value.toString();\n"
    "      case 'function': return '[Function ' + (value.name || '(anonymous)') + ']';\n"
    "      case 'object':\n"
    "        if (value === null) return 'null';\n"
    "        if (value instanceof Error) return value.stack ? value.name + ': ' + value.message + '\\n' + value.stack : String(value);\n"
    "        try { const text = JSON.stringify(value); if (text !== undefined) return text; } catch (e) {}\n"
    "        return Object.prototype.toString.call(value);\n"
    "      default: return String(value);\n"
    "    }\n"
    "  }\n"
    "  function line(args) { return Array.prototype.map.call(args, (a) => show(a)).join(' ') + '\\n'; }\n"
    "  const out = function (...args) { write(1, line(args)); };\n"
    "  const err = function (...args) { write(2, line(args)); };\n"
    "  const console = { log: out, info: out, debug: out, warn: err, error: err };\n"
    "  Object.defineProperty(globalThis, 'console', { value: console, writable: true, configurable: true });\n"
    "  Object.defineProperty(globalThis, 'print', { value: out, writable: true, configurable: true });\n"
    "  let rest = input;\n"
    "  function readline() {\n"
    "    if (rest.length === 0) return null;\n"
    "    const end = rest.indexOf('\\n');\n"
    "    const text = end < 0 ? rest : rest.slice(0, end);\n"
    "    rest = end < 0 ? '' : rest.slice(end + 1);\n"
    "    return text;\n"
    "  }\n"
    "  Object.defineProperty(globalThis, 'readline', { value: readline, writable: true, configurable: true });\n"
    "  Object.defineProperty(globalThis, 'stdin', { value: input, writable: true, configurable: true });\n"
    "})(__write, __stdin);\n"
    "delete globalThis.__write;\n"
    "delete globalThis.__stdin;\n";

int main(void)
{
    size_t len = 0;
    char *all = read_all(&len);
    if (!all) {
        write_str(2, "runner: could not read standard input\n");
        return 2;
    }
    char *end = NULL;
    unsigned long long script_len = strtoull(all, &end, 10);
    if (end == all || *end != '\n' || script_len > len - (size_t)(end + 1 - all)) {
        write_str(2, "runner: standard input must start with the script's length in bytes and a newline\n");
        return 2;
    }
    char *script = end + 1;
    char *input = script + script_len;
    size_t input_len = len - (size_t)(input - all);

    JSRuntime *rt = JS_NewRuntime();
    JSContext *ctx = rt ? JS_NewContext(rt) : NULL;
    if (!ctx) {
        write_str(2, "runner: out of memory creating the interpreter\n");
        return 1;
    }
    JS_SetHostPromiseRejectionTracker(rt, track_rejection, NULL);

    JSValue global = JS_GetGlobalObject(ctx);
    JS_SetPropertyStr(ctx, global, "__write", JS_NewCFunction(ctx, js_write, "__write", 2));
    JS_SetPropertyStr(ctx, global, "__stdin", JS_NewStringLen(ctx, input, input_len));
    JS_FreeValue(ctx, global);
    JSValue prelude = JS_Eval(ctx, PRELUDE, sizeof(PRELUDE) - 1, "<prelude>", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(prelude)) {
        JSValue exception = JS_GetException(ctx);
        print_error(ctx, "runner: ", exception);
        return 1;
    }
    JS_FreeValue(ctx, prelude);

    /* JS_Eval needs the script NUL-terminated: cut it off from the input, which is already copied. */
    script[script_len] = '\0';
    int status = 0;
    JSValue result = JS_Eval(ctx, script, (size_t)script_len, "<script>", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(result)) {
        JSValue exception = JS_GetException(ctx);
        print_error(ctx, "Uncaught ", exception);
        JS_FreeValue(ctx, exception);
        status = 1;
    }
    JS_FreeValue(ctx, result);

    /* Promise jobs run until none are left, and stop at the first that throws. */
    while (status == 0) {
        JSContext *job_ctx;
        int ran = JS_ExecutePendingJob(rt, &job_ctx);
        if (ran == 0)
            break;
        if (ran < 0) {
            JSValue exception = JS_GetException(job_ctx);
            print_error(job_ctx, "Uncaught ", exception);
            JS_FreeValue(job_ctx, exception);
            status = 1;
        }
    }
    if (status == 0 && rejected_count > 0) {
        print_error(ctx, "Uncaught (in promise) ", rejected_reasons[0]);
        status = 1;
    }
    /* The process ends here: the instance and its memory are dropped whole, so nothing is freed one by one. */
    return status;
}
