// CSoxr: the C API of libsoxr-dev (found through pkg-config 'soxr'), sealed behind Swift owners.
#include <soxr.h>
