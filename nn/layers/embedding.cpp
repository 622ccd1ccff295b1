// Embedding (see embedding.h).
#include "nn/layers/embedding.h"

#include "autograd/ops.h"
#include "autograd/ops/index.h"

namespace gradstack::nn {

Embedding::Embedding(EmbeddingConfig c, Generator* gen) : config_(c) {
    check(c.num_embeddings > 0 && c.embedding_dim > 0, "[Embedding] sizes must be positive, got {} x {}",
          c.num_embeddings, c.embedding_dim);
    weight = register_parameter("weight", randn({c.num_embeddings, c.embedding_dim}, c.dtype, gen) * c.init_std);
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids); }

}  // namespace gradstack::nn
