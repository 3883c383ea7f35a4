/* tests/compile/user_macros.c - the implementation compiled after object-like
   macros a program commonly defines (a game's screen H and W, a table's N and
   K) and the function-like min / max of some platform headers: distill.h
   must use none of these names. */
#define H 480
#define W 640
#define C 3
#define N 1000
#define K 10
#define T 0.5
#define M 7
#define S "s"
#define P 1
#define L 2
#define R 3
#define B 4
#define X 5
#define Y 6
#define OH 7
#define OW 8
#define KH 3
#define KW 3
#define IN 1
#define OUT 1
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define DISTILL_IMPLEMENTATION
#include "distill.h"

int main(void)
{
    return dst_version()[0] == '0' ? 0 : 1;
}
