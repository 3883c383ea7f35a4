/* tests/compile/user_macros.c - the implementation compiled after object-like
   macros a program commonly defines (every single upper-case letter: a game's
   screen H and W, a table's N and K; a few more) and the function-like min and
   max of some platform headers: distill.h must use none of these names. */
#define H 480
#define W 640
#define C 3
#define N 1000
#define K 10
#define T 0.5
#define S "s"
#define A 65
#define B 66
#define D 68
#define E 69
#define F 70
#define G 71
#define I 73
#define J 74
#define L 76
#define M 77
#define O 79
#define P 80
#define Q 81
#define R 82
#define U 85
#define V 86
#define X 88
#define Y 89
#define Z 90
#define OH 7
#define OW 8
#define KH 3
#define KW 3
#define TW 4
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
