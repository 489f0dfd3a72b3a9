// The umbrella header: all of gocxx.
#pragma once

#include "go/chan.hpp"
#include "go/context.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/semaphore.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"
