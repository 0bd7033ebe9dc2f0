/* smp_ipi with application processors that wait with `cli; hlt` and a BSP that waits with
 * `sti; hlt`: every vCPU parks for good (a guest hang). */
#define AP_CLI 1
#define BSP_PARKS 1
#include "smp_ipi.S"
