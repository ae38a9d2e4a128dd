/* placeholder: replaced by the shim protocol implementation */
typedef int mk_shimlib_placeholder;
