/* sanitizer_options.c - linked into every fuzz target: an undefined-behaviour report stops the
 * run like a crash does, so libFuzzer saves the input (the libraries are built with recoverable
 * UBSan checks). */
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}
