/* placeholder */
typedef int mk_api_placeholder;
