/* smp_ipi with application processors that wait with `cli; hlt`: nothing can wake them. */
#define AP_CLI 1
#include "smp_ipi.S"
