/* smp_timer whose handler forgets the EOI: the second tick can never be taken. */
#define NO_EOI 1
#include "smp_timer.S"
