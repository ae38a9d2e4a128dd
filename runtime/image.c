/* placeholder */
typedef int mk_runtime_placeholder;
