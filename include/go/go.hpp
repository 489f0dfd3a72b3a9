// The umbrella header: all of gocxx (except <go/testing.hpp>, which needs GoogleTest).
#pragma once

#include "go/any.hpp"
#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/defer.hpp"
#include "go/errgroup.hpp"
#include "go/errors.hpp"
#include "go/patterns.hpp"
#include "go/rate.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/semaphore.hpp"
#include "go/synctest.hpp"
#include "go/task.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
