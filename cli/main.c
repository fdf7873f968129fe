#include <stdio.h>
int main(void) { puts("xtrade"); return 0; }
