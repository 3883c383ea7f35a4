/* tests/compile/decls.c - a file that includes distill.h for the declarations
   only (the implementation lives in impl.c), as a program's other files do. */
#include "distill.h"
#include <stdio.h>
#include <string.h>

int main(void)
{
    float a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 0, 0, 1 }, c[4];
    dst_sgemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    if (c[0] != 1 || c[1] != 2 || c[2] != 3 || c[3] != 4) { printf("dst_sgemm gave wrong numbers\n"); return 1; }
    if (strcmp(dst_result_string(DST_OK), "") == 0) return 1;
    printf("declarations-only include links: ok (%s)\n", dst_version());
    return 0;
}
