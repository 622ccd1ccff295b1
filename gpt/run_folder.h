// A training run's folder, kept so that a kill at any instant leaves a run that resumes. The
// checkpoint is a unit: every file of step N goes into a new folder checkpoints/step-N, and only
// when all of them are on disk does one atomic rename switch the pointer checkpoints/latest to it;
// the previous step's folder is deleted after that, never before. The run folder's top level
// holds the latest checkpoint as a Hugging Face model folder (hard links into the step folder,
// replaced one by one, each atomically), so `--model OUT` works as before:
//
//   OUT/  config.json model.safetensors optimizer.safetensors trainer_state.json metrics.csv
//         vocab.json merges.txt metrics.png tokens.*          (top level: the latest, for users)
//   OUT/checkpoints/latest                                     ("step-00000400", atomically replaced)
//   OUT/checkpoints/step-00000400/  config.json model.safetensors optimizer.safetensors
//                                   trainer_state.json metrics.csv          (the unit --resume reads)
//
// RunFolder also holds an exclusive lock on OUT/.lock while it lives (two trainers writing one
// folder would mix their steps), and cleans what a killed run left behind: temporary files of
// atomic writes (*.tmp-PID-N, *.tmp) and step folders the pointer does not name. Runs saved
// before this layout (the checkpoint files at the top level only) still resume.
// Read next: trainer.cpp (its checkpoint() and resume).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace gradstack::gpt {

class RunFolder {
public:
    // Creates `out` if needed and takes its lock. Throws gradstack::Error naming `out` when it
    // cannot be created or written (a read-only place), or when another process holds the lock.
    // `what` names the command in messages ("gradstack train"); `state_file` is the file each
    // checkpoint's folder holds last (its presence at the top level marks a run of the old layout).
    RunFolder(std::filesystem::path out, std::string what,
              std::string state_file = "trainer_state.json");
    ~RunFolder();
    RunFolder(const RunFolder&) = delete;
    RunFolder& operator=(const RunFolder&) = delete;

    const std::filesystem::path& path() const { return out_; }

    // latest_checkpoint(path(), state_file).
    std::optional<std::filesystem::path> latest() const;
    // Whether `out` already holds a run (a checkpoint, or any file a training run writes at the
    // top level).
    bool holds_run() const;

    // Removes temporary files of interrupted atomic writes and step folders that are not the
    // latest checkpoint; returns how many entries were removed.
    int clean_stale();

    // Writes one checkpoint as a unit: `write_files(dir)` fills the new, empty folder
    // checkpoints/step-<step> (each file atomically); then the pointer switches to it, the
    // top-level files become hard links to it (copies where links are impossible), and older
    // step folders are removed. An exception from `write_files` leaves the previous checkpoint
    // as it was and removes the half-written folder.
    void commit(int64_t step, const std::function<void(const std::filesystem::path& dir)>& write_files);

    // Makes the top-level files match the latest checkpoint's folder (after a kill between the
    // pointer switch and the last link). No-op for the old layout.
    void publish_latest();

private:
    std::filesystem::path out_;
    std::string what_, state_file_;
    int lock_fd_ = -1;
};

// The folder holding the latest complete checkpoint of the run in `out`: checkpoints/step-N as
// the pointer says, else `out` itself when a run of the old layout is there (trainer_state.json
// at the top), else none. Throws when the pointer is damaged or names a missing folder. Takes no
// lock and creates nothing.
std::optional<std::filesystem::path> latest_checkpoint(
    const std::filesystem::path& out, const std::string& state_file = "trainer_state.json");

// Test hook for fault injection: when the environment variable GRADSTACK_CRASH_AT_SAVE_POINT is
// N > 0, the N-th call of this function in the process ends it at once with _exit(86), as a
// SIGKILL would (no destructors, no flushing). Called between every file operation of a
// checkpoint. Does nothing otherwise.
void save_point();

}  // namespace gradstack::gpt
