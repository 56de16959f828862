// CZlibSystem: the C API of zlib1g-dev (pkg-config zlib) for the PNG images of reports. Not "CZlib":
// ZIPFoundation already defines a module of that name.
#include <zlib.h>
