/* SPDX-License-Identifier: BSD-3-Clause */
/* Log types of the data plane: gcdl.control, gcdl.dataplane, gcdl.engine
 * (select with e.g. --log-level 'gcdl.*:debug'). */
#include <rte_log.h>

#include "node_internal.h"

RTE_LOG_REGISTER_SUFFIX(gcdl_logtype_control, control, INFO);
RTE_LOG_REGISTER_SUFFIX(gcdl_logtype_dataplane, dataplane, INFO);
RTE_LOG_REGISTER_SUFFIX(gcdl_logtype_engine, engine, INFO);
