/* xmodify_user_code where CPU 0 changes only a decoy copy of the code and the user data page. */
#define XMOD_DATA_ONLY 1
#include "xmodify_user_code.S"
