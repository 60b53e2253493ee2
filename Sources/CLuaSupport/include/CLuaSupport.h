#ifndef MOONFLOW_CLUA_SUPPORT_H
#define MOONFLOW_CLUA_SUPPORT_H
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#endif
