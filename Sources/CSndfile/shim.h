// CSndfile: the C API of libsndfile1-dev (found through pkg-config 'sndfile'), sealed behind Swift owners.
#include <sndfile.h>
