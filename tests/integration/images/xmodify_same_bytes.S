/* xmodify_user_code where CPU 0 rewrites the user code with the bytes it already holds. */
#define XMOD_SAME_BYTES 1
#include "xmodify_user_code.S"
