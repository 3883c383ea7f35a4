/* tests/compile/impl.c - the implementation in its own translation unit;
   decls.c includes only the declarations and links against it. */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
