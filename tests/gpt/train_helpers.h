// A tiny training set-up shared by the training tests: a small, very regular corpus with a BPE
// vocabulary trained on it, and a TrainConfig for a 2-layer model that learns it in seconds.
#pragma once

#include <fstream>
#include <string>

#include "gpt/tokenizer/train.h"
#include "gpt/trainer.h"
#include "tests/gpt/tokenizer_helpers.h"

namespace gradstack::test {

struct Corpus {
    TempDir dir;
    std::string text_file, tokenizer;
    Corpus() {
        std::string text;
        const char* lines[] = {"the cat sat on the mat.\n", "the dog sat on the log.\n",
                               "a cat and a dog met on the mat.\n", "the log was on the dog.\n"};
        for (int i = 0; i < 300; ++i) text += lines[(i * 7) % 4];
        text_file = (dir.path / "corpus.txt").string();
        std::ofstream(text_file) << text;
        tokenizer = (dir.path / "tok").string();
        gpt::BpeTrainer t(gpt::BpeTrainOptions{300, 2, {"<|endoftext|>"}});
        t.add_text(text);
        t.train().save(tokenizer);
    }
};

inline gpt::TrainConfig tiny_config(const Corpus& corpus, const std::string& out) {
    gpt::TrainConfig c;
    c.data = {corpus.text_file};
    c.out = out;
    c.tokenizer = corpus.tokenizer;
    c.n_layer = 2;
    c.n_head = 2;
    c.n_embd = 32;
    c.context = 32;
    c.dropout = 0.1;  // exercises the dropout generator across resume
    c.steps = 30;
    c.batch_size = 4;
    c.lr = 1e-2;
    c.min_lr = 1e-3;
    c.warmup = 5;
    c.eval_every = 10;
    c.eval_batches = 2;
    c.save_every = 100;
    c.log_every = 1;
    c.sample_tokens = 8;
    return c;
}

inline void quiet(const std::string&) {}

}  // namespace gradstack::test
