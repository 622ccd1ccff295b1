// test_vae: the vae layer catalog (test_layers.cpp), the diffusion maths (test_diffusion.cpp),
// the text measures (test_text_metrics.cpp) and training end to end (test_train.cpp).
// Every model here is tiny (widths 4 to 64), so one OpenMP thread is faster than two: a
// parallel region's hand-off costs more than the work, and on a loaded machine a second thread
// waiting for its turn slowed the suite tenfold (12 min instead of 1 under OMP_NUM_THREADS=2).
// The fixture runs the suite on one thread; the CLI runs in test_train.cpp get
// OMP_NUM_THREADS=1 likewise.
#define BOOST_TEST_MODULE test_vae
#include <omp.h>

#include <boost/test/unit_test.hpp>

struct OneThread {
    OneThread() { omp_set_num_threads(1); }
};
BOOST_TEST_GLOBAL_FIXTURE(OneThread);
