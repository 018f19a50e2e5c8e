/* zkt.h: the whole integration test harness (zkv_test_harness) in one include. */
#ifndef ZKT_ZKT_H
#define ZKT_ZKT_H
#include "zkt/cluster.h"
#include "zkt/ldb.h"
#include "zkt/netcut.h"
#include "zkt/port.h"
#include "zkt/proc.h"
#include "zkt/proxy.h"
#include "zkt/runner.h"
#include "zkt/tmpdir.h"
#include "zkt/util.h"
#include "zkt/wait.h"
#include "zkt/zkclient.h"
#include "zkt/zkserver.h"
#endif
