// Embedding (see embedding.h).
#include "nn/layers/embedding.h"

#include "autograd/ops.h"
#include "autograd/ops/index.h"
#include "nn/init.h"

namespace gradstack::nn {

Embedding::Embedding(EmbeddingConfig c, Generator* gen) : config_(c) {
    check(c.num_embeddings > 0 && c.embedding_dim > 0, "[Embedding] sizes must be positive, got {} x {}",
          c.num_embeddings, c.embedding_dim);
    weight = register_parameter("weight", init::normal_weight({c.num_embeddings, c.embedding_dim},
                                                              c.dtype, c.init_std, gen));
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids); }

}  // namespace gradstack::nn
