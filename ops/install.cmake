# `cmake --install <build> [--prefix P]`: the FHS layout an operator deploys (docs/DEPLOY.md).
#
#   P/sbin/squall-<svc>                       the seven services
#   P/bin/squall-admin, squall-health, squall-nkey, squall-status  operator tools
#   P/lib/squall/squall-native-launcher       the native runtime (bound into the sandbox)
#   P/lib/squall/runtimes/{nodejs,python}/    the runtime launchers
#   P/share/squall/schemas/<svc>/*.sql        PostgreSQL migrations; schemas/nats: the contract
#   P/share/squall/system/<pkg>/              the /whisk.system packages
#   P/share/squall/pg_bootstrap.sql           roles and database (docs/DEPLOY.md)
#   P/share/squall/conf/<svc>.conf            sample /etc/squall/<svc>.conf
#   P/lib/systemd/system/squall-<svc>.service the units (ExecStart=/usr/sbin/squall-<svc>)
#   P/share/doc/squall/                       README, ARCHITECTURE, NATS, DEPLOY
#
# The binaries find schemas, system packages, runtimes and the native launcher relative to
# themselves (SQ_CFG_PATH in shared/include/sq/config.h), so no source tree is needed.
foreach(svc gateway auth registry scheduler invoker activations triggers)
  if(TARGET squall-${svc})
    install(TARGETS squall-${svc} RUNTIME DESTINATION sbin)
  endif()
endforeach()
foreach(tool squall-admin squall-health squall-nkey squall-status)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION bin)
  endif()
endforeach()
if(TARGET squall-native-launcher)
  install(TARGETS squall-native-launcher RUNTIME DESTINATION lib/squall)
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/services/invoker/runtimes/
  DESTINATION lib/squall/runtimes
  PATTERN "native" EXCLUDE)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schemas/ DESTINATION share/squall/schemas)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/services/registry/system/ DESTINATION share/squall/system)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/services/gateway/console/ DESTINATION share/squall/console)
install(FILES ${CMAKE_SOURCE_DIR}/ops/pg_bootstrap.sql DESTINATION share/squall)
file(GLOB SQ_UNITS ${CMAKE_SOURCE_DIR}/ops/systemd/*.service)
install(FILES ${SQ_UNITS} DESTINATION lib/systemd/system)
file(GLOB SQ_CONFS ${CMAKE_SOURCE_DIR}/ops/systemd/conf/*.conf)
install(FILES ${SQ_CONFS} DESTINATION share/squall/conf)
file(GLOB SQ_DOCS ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${SQ_DOCS} DESTINATION share/doc/squall)
