/* smp_timer with the LVT timer entry masked: no tick is ever taken. */
#define MASKED 1
#include "smp_timer.S"
