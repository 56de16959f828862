// CFFTW: the C API of libfftw3-dev (found through pkg-config 'fftw3f'), sealed behind Swift owners.
#include <fftw3.h>
