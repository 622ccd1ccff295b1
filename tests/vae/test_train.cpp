// Training end to end on a tiny model: the VAE learns to reconstruct a handful of sentences
// (library), and the CLI: train, --stop-at + --resume identical to one run, diffusion-train,
// sample / reconstruct / interpolate / eval --json, and clear errors for bad input.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "tests/gpt/cli_helpers.h"
#include "vae/model.h"
#include "vae/train.h"

using namespace gradstack;
using namespace gradstack::test;
using nlohmann::json;

namespace {

const std::vector<std::string> kSentences{"the cat sat", "a dog ran far", "we eat pie",
                                          "sun is hot", "big red box"};

// A folder with the tiny byte-level tokenizer and a data file of kSentences.
struct Corpus {
    TempDir dir;
    fs::path data, tok;
    Corpus() {
        tok = dir.path / "tok";
        fs::create_directories(tok);
        write_tiny_tokenizer(tok, false);
        data = dir.path / "s.txt";
        std::string text;
        for (auto& s : kSentences) text += s + "\n";
        write_text(data, text);
    }
};

std::string tiny_flags(const Corpus& c, bool data_and_latent = true) {
    return " --tokenizer " + c.tok.string() +
           (data_and_latent ? " --data " + c.data.string() + " --latent 4" : std::string()) +
           " --n-embd 16 --n-layer 1 --n-head 2 --max-length 16 --batch-size 5 "
           "--lr 3e-3 --warmup 2 --val-fraction 0 --eval-every 10 --log-every 5 --save-every 10";
}

// metrics.csv without the timing columns (tokens/s, elapsed).
std::string losses_of(const fs::path& csv) {
    std::istringstream in(read_file_text(csv));
    std::string out;
    for (std::string line; std::getline(in, line);) out += line.substr(0, line.rfind(',', line.rfind(',') - 1)) + "\n";
    return out;
}

// The CLI on one thread, as the rest of this suite (test_main.cpp says why).
CliRun run_vae_cli(const std::string& args) { return run_cli(args, "OMP_NUM_THREADS=1"); }

}  // namespace

BOOST_AUTO_TEST_SUITE(vae_training)

BOOST_AUTO_TEST_CASE(learns_to_reconstruct_sentences) {
    Corpus c;
    vae::VaeTrainConfig t;
    t.data = {c.data.string()};
    t.out = (c.dir.path / "run").string();
    t.tokenizer = c.tok.string();
    t.n_layer = 1, t.n_head = 2, t.n_embd = 32, t.latent = 8, t.max_length = 16;
    t.steps = 300, t.batch_size = 5, t.lr = 3e-3, t.min_lr = 3e-4, t.warmup = 10;
    t.beta = 0.02, t.kl_cycles = 0, t.val_fraction = 0;
    t.eval_every = 300, t.save_every = 300, t.log_every = 300;
    vae::TrainSummary s = vae::train_vae(t, [](const std::string&) {});
    BOOST_TEST(s.steps_done == 300);
    BOOST_TEST(s.losses.back() < 0.2 * s.losses.front());
    auto model = vae::load_vae(t.out);
    gpt::Tokenizer tok = gpt::Tokenizer::from_directory(t.out);
    int exact = 0;
    for (auto& sentence : kSentences) {
        vae::Posterior q = model->encode_all({tok.encode(sentence)});
        auto ids = model->decoder->generate(q.mu, model->bos(), model->eos(), {}, nullptr);
        exact += tok.decode_text(ids[0]) == sentence ? 1 : 0;
    }
    BOOST_TEST(exact >= 4, exact << " of 5 sentences reconstructed exactly");
}

BOOST_AUTO_TEST_CASE(a_kill_during_a_save_leaves_a_run_that_resumes) {
    // Each file operation of the second checkpoint (step 20) of a joint VAE + DDPM run (so the
    // diffusion/ subfolder is in the unit too), killed in turn: --resume finishes with the
    // weights of the run that was never killed (gpt/run_folder.h).
    Corpus c;
    const std::string base = tiny_flags(c) + " --ddpm-weight 0.5 --hidden 8 --layers 1 --timesteps 20 --steps 20";
    const fs::path whole = c.dir.path / "whole";
    CliRun r = run_vae_cli("vae train --out " + whole.string() + base);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    int killed = 0;
    for (int point = 18; point < 60; ++point) {
        const fs::path run = c.dir.path / ("run" + std::to_string(point));
        r = run_cli("vae train --out " + run.string() + base,
                    "OMP_NUM_THREADS=1 GRADSTACK_CRASH_AT_SAVE_POINT=" + std::to_string(point));
        if (r.exit_code == 0) break;
        BOOST_REQUIRE_MESSAGE(r.exit_code == 86, "point " << point << ": " << r.err);
        ++killed;
        r = run_vae_cli("vae train --out " + run.string() + base + " --resume");
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "point " << point << ": " << r.err);
        BOOST_TEST(read_file_text(run / "model.safetensors") == read_file_text(whole / "model.safetensors"),
                   "point " << point);
        BOOST_TEST(read_file_text(run / "diffusion" / "denoiser.safetensors") ==
                       read_file_text(whole / "diffusion" / "denoiser.safetensors"),
                   "point " << point);
        fs::remove_all(run);
    }
    BOOST_TEST(killed >= 5);
}

BOOST_AUTO_TEST_CASE(cli_end_to_end) {
    Corpus c;
    const std::string base = tiny_flags(c);
    const fs::path full = c.dir.path / "full", split = c.dir.path / "split";
    CliRun r = run_vae_cli("vae train --out " + full.string() + base + " --steps 20");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(contains(r.out, "step     20/20 | loss"));
    BOOST_TEST(contains(r.out, "tok/s | ETA"));
    BOOST_TEST(fs::exists(full / "metrics.csv"));
    // Stopped at 10 and resumed: the same losses as the run in one go.
    r = run_vae_cli("vae train --out " + split.string() + base + " --steps 20 --stop-at 10");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "stopped (--stop-at) at step 10"));
    r = run_vae_cli("vae train --out " + split.string() + base + " --steps 20");
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(r.err, "already holds a VAE run; pass --resume"));
    r = run_vae_cli("vae train --out " + split.string() + base + " --steps 20 --resume");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "resuming at step 10 of 20"));
    BOOST_TEST(losses_of(split / "metrics.csv") == losses_of(full / "metrics.csv"));
    BOOST_TEST(read_file_text(split / "model.safetensors") == read_file_text(full / "model.safetensors"));

    // Two-stage: the DDPM on the frozen VAE's latents.
    const fs::path ddpm = c.dir.path / "ddpm";
    r = run_vae_cli("vae diffusion-train --vae " + full.string() + " --out " + ddpm.string() +
                " --steps 10 --timesteps 50 --hidden 16 --layers 2 --batch-size 8 --log-every 5 "
                "--eval-every 5");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(contains(r.out, "step     10/10 | ddpm"));
    BOOST_TEST(fs::exists(ddpm / "diffusion_config.json"));

    r = run_vae_cli("vae sample --vae " + full.string() + " -n 3 --seed 1 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    json j = json::parse(r.out);
    BOOST_TEST(j["source"] == "prior");
    BOOST_TEST(j["samples"].size() == 3u);
    r = run_vae_cli("vae sample --vae " + full.string() + " --diffusion " + ddpm.string() +
                " --ddim-steps 5 -n 2 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    j = json::parse(r.out);
    BOOST_TEST(j["source"] == "diffusion");
    BOOST_TEST(j["samples"][0].contains("text"));
    r = run_vae_cli("vae reconstruct --vae " + full.string() + " --text 'the cat sat' --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    j = json::parse(r.out);
    BOOST_TEST(j["text"] == "the cat sat");
    BOOST_TEST(j["mu"].size() == 4u);
    BOOST_TEST(j.contains("reconstruction"));
    r = run_vae_cli("vae interpolate --vae " + full.string() +
                " --from 'the cat sat' --to 'we eat pie' --steps 3 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    j = json::parse(r.out);
    BOOST_TEST(j["points"].size() == 3u);
    BOOST_TEST(j["points"][2]["alpha"] == 1.0);
    r = run_vae_cli("vae eval --vae " + full.string() + " --diffusion " + ddpm.string() + " --data " +
                c.data.string() + " -n 3 --ddim-steps 5 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    j = json::parse(r.out);
    for (const char* k : {"reconstruction_bleu", "active_units", "mean_z_norm", "prior", "diffusion"})
        BOOST_TEST(j.contains(k), k);
    for (const char* k : {"perplexity", "diversity", "memorisation", "self_bleu", "distinct_1",
                          "distinct_2", "mean_z_norm"})
        BOOST_TEST(j["diffusion"].contains(k), k);

    // Joint training (DMLP's VAE_DDPM): the denoiser trains with the VAE and lands in
    // <out>/diffusion, usable by sample --diffusion.
    const fs::path joint = c.dir.path / "joint";
    r = run_vae_cli("vae train --out " + joint.string() + base +
                    " --steps 6 --ddpm-weight 0.5 --timesteps 20 --hidden 8 --layers 1");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(contains(r.out, "| ddpm "));
    BOOST_TEST(contains(r.out, "joint DDPM weight 0.5"));
    r = run_vae_cli("vae sample --vae " + joint.string() + " --diffusion " +
                    (joint / "diffusion").string() + " --ddim-steps 4 -n 2 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(json::parse(r.out)["samples"].size() == 2u);

    // Bad input: clear errors, before any work.
    auto err = [&](const std::string& args) {
        CliRun e = run_vae_cli(args);
        BOOST_TEST(e.exit_code != 0, args);
        return e.err;
    };
    const fs::path fresh = c.dir.path / "fresh";
    const std::string bare = tiny_flags(c, false) + " --data " + c.data.string();
    BOOST_TEST(contains(err("vae train --out " + fresh.string() + bare + " --latent 0"),
                        "--latent must be >= 1"));
    BOOST_TEST(contains(err("vae train --out " + fresh.string() + base + " --conditioning soup"),
                        "--conditioning soup"));
    BOOST_TEST(contains(err("vae train --out " + fresh.string() + " --data /nonexistent.txt"),
                        "--data /nonexistent.txt: no such file"));
    write_text(c.dir.path / "empty.txt", "\n\n");
    BOOST_TEST(contains(err("vae train --out " + fresh.string() + tiny_flags(c, false) +
                            " --data " + (c.dir.path / "empty.txt").string()),
                        "no text"));
    BOOST_TEST(!fs::exists(fresh / "trainer_state.json"));
    BOOST_TEST(contains(err("vae sample --vae " + c.tok.string() + " -n 2"), "not a VAE folder"));
    BOOST_TEST(contains(err("vae sample --vae " + full.string() + " -n 0"), "-n must be >= 1"));
    BOOST_TEST(contains(err("vae sample --vae " + full.string() + " --diffusion " + full.string()),
                        "not a latent diffusion folder"));
    // A diffusion model of another latent size.
    auto cfg = json::parse(read_file_text(ddpm / "diffusion_config.json"));
    cfg["latent"] = 7;
    write_text(ddpm / "diffusion_config.json", cfg.dump());
    BOOST_TEST(contains(err("vae sample --vae " + full.string() + " --diffusion " + ddpm.string()),
                        "trained for latent size 7, but the VAE has latent size 4"));
    BOOST_TEST(contains(err("vae reconstruct --vae " + full.string() + " --text ''"), "empty"));
}

BOOST_AUTO_TEST_SUITE_END()
