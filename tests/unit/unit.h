/*
 * unit.h: what every cmocka unit test includes.
 */
#ifndef POSTERN_UNIT_H
#define POSTERN_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#endif
