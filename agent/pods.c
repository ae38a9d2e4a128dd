/* placeholder */
typedef int mk_agent_placeholder;
