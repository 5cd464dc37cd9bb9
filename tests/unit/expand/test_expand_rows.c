#include "tests/unit/unit.h"
int main(void) { return unit_report("test_expand_rows"); }
