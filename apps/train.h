// What `gradstack train` and `gradstack demo` share: running gpt::train with its progress on
// stdout and Ctrl-C turned into "save a checkpoint and stop" (a second Ctrl-C stops at once).
// Defined in train.cpp.
#pragma once

#include "gpt/trainer.h"

namespace gradstack::apps {

// Runs gpt::train(config), printing each log line as it comes; the result says interrupted when
// Ctrl-C stopped it (the checkpoint is saved by then). The previous SIGINT handler is restored.
gpt::TrainResult train_with_ctrl_c(const gpt::TrainConfig& config);

}  // namespace gradstack::apps
