// Chambolle TV denoising as one TensorFlow CPU op: FeatvizChambolle.
//
// The same arithmetic as featviz_engine/tv.py's graph version (scikit-image's dual update and
// stopping rule), in two passes over each unit per iteration instead of the dozen full-size
// passes XLA makes of the graph on a CPU. Units (the leading axis) are independent and are
// spread over TensorFlow's CPU worker threads. featviz_engine/tv_native.py builds and loads it.
//
// images: (U, H, W, C) float32; weights: (U,) float32, each > 0. Variation is measured along H,
// W and C; a C of 1 measures it along H and W only. tau = 1 / (2 ndim).

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace featviz {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

REGISTER_OP("FeatvizChambolle")
    .Input("images: float")
    .Input("weights: float")
    .Output("denoised: float")
    .Attr("ndim: int")
    .Attr("eps: float")
    .Attr("max_num_iter: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      return absl::OkStatus();
    });

namespace {

struct Shape {
  int64_t height, width, channels;
  int64_t row() const { return width * channels; }
  int64_t size() const { return height * row(); }
};

// `value` where `mask` is all ones, +0 where it is 0: the select `condition ? value : 0.0f`
// with the same bits, written as a bitwise and because GCC vectorises that for AVX2, where it
// leaves the select's loop scalar (AVX-512 has masked moves for it; AVX2 has none).
inline float Masked(float value, uint32_t mask) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits &= mask;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// The sum of `values` in double precision, in independent lanes so that it vectorises (a
// single running sum is a dependency chain the compiler must keep in order).
__attribute__((target_clones("avx512f", "avx2", "default"))) double Sum(const float* values,
                                                                        int64_t count) {
  constexpr int kLanes = 8;
  double lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= count; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += values[k + l];
  }
  double total = 0.0;
  for (; k < count; ++k) total += values[k];
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  return total;
}

// out = images + d for one row, d the (negative) divergence of p: the graph's
// -(p_h + p_w + p_c) + shifted p_h + shifted p_w + shifted p_c, in that order, where a shift
// past the edge adds 0. `ph_up` is the previous row's p_h (zeros for the first row). Writes d
// squared to `scratch`. The first pixel's values are apart so that the loop over the others
// loads unconditionally, which lets it vectorise.
__attribute__((target_clones("avx512f", "avx2", "default"))) void DivergenceRow(
    const float* __restrict__ x, const float* __restrict__ ph, const float* __restrict__ ph_up,
    const float* __restrict__ pw, const float* __restrict__ pc,
    const uint32_t* __restrict__ has_previous_channel, int64_t row, int64_t ch,
    float* __restrict__ out, float* __restrict__ scratch) {
  for (int64_t k = 0; k < ch; ++k) {
    float d = -((ph[k] + pw[k]) + pc[k]);
    d = d + ph_up[k];
    d = d + 0.0f;
    d = d + (has_previous_channel[k] ? pc[k - 1] : 0.0f);
    out[k] = x[k] + d;
    scratch[k] = d * d;
  }
  for (int64_t k = ch; k < row; ++k) {
    const float previous_c = pc[k - 1];
    float d = -((ph[k] + pw[k]) + pc[k]);
    d = d + ph_up[k];
    d = d + pw[k - ch];
    d = d + Masked(previous_c, has_previous_channel[k]);
    out[k] = x[k] + d;
    scratch[k] = d * d;
  }
}

// The dual update of one value from its forward differences; returns their norm.
inline float Update(float g_h, float g_w, float g_c, float tau, float step, float& ph,
                    float& pw, float& pc) {
  const float norm = std::sqrt((g_h * g_h + g_w * g_w) + g_c * g_c);
  const float scale = 1.0f + norm * step;
  ph = (ph - tau * g_h) / scale;
  pw = (pw - tau * g_w) / scale;
  pc = (pc - tau * g_c) / scale;
  return norm;
}

// The forward differences of out along H (`below` is the next row, or this one for the last
// row, giving 0), W and C, their norm (written to `scratch`) and the dual update of p. The
// last pixel's values are apart, as in DivergenceRow.
__attribute__((target_clones("avx512f", "avx2", "default"))) void UpdateRow(
    const float* __restrict__ o, const float* __restrict__ below,
    const uint32_t* __restrict__ has_next_channel, int64_t row, int64_t ch, float tau, float step,
    float* __restrict__ ph, float* __restrict__ pw, float* __restrict__ pc,
    float* __restrict__ scratch) {
  const int64_t body = row - ch;
  for (int64_t k = 0; k < body; ++k) {
    const float g_c = Masked(o[k + 1] - o[k], has_next_channel[k]);
    scratch[k] = Update(below[k] - o[k], o[k + ch] - o[k], g_c, tau, step, ph[k], pw[k], pc[k]);
  }
  for (int64_t k = body; k < row; ++k) {
    const float g_c = has_next_channel[k] ? o[k + 1] - o[k] : 0.0f;
    scratch[k] = Update(below[k] - o[k], 0.0f, g_c, tau, step, ph[k], pw[k], pc[k]);
  }
}

// One unit: `out` receives the result; `p` holds 3 * size floats of dual variables, `scratch`
// one row plus one row of zeros.
void DenoiseUnit(const float* x, float weight, const Shape& s, float tau, double eps,
                 int max_num_iter, const std::vector<uint32_t>& has_previous_channel,
                 const std::vector<uint32_t>& has_next_channel, float* p, float* out,
                 float* scratch) {
  const int64_t row = s.row(), n = s.size(), ch = s.channels;
  float* p_h = p;
  float* p_w = p + n;
  float* p_c = p + 2 * n;
  const float* zeros = scratch + row;
  std::memset(p, 0, sizeof(float) * 3 * n);
  std::memset(scratch, 0, sizeof(float) * 2 * row);
  std::memcpy(out, x, sizeof(float) * n);
  const float step = tau / weight;  // as the graph's tau / weight, in float32
  double energy_init = 0.0, energy_prev = 0.0;
  for (int i = 0; i < max_num_iter; ++i) {
    double divergence_sq = 0.0;
    if (i > 0) {
      for (int64_t h = 0; h < s.height; ++h) {
        const int64_t base = h * row;
        DivergenceRow(x + base, p_h + base, h > 0 ? p_h + base - row : zeros, p_w + base,
                      p_c + base, has_previous_channel.data(), row, ch, out + base, scratch);
        divergence_sq += Sum(scratch, row);
      }
    }
    double norm_sum = 0.0;
    for (int64_t h = 0; h < s.height; ++h) {
      const int64_t base = h * row;
      const float* below = h + 1 < s.height ? out + base + row : out + base;
      UpdateRow(out + base, below, has_next_channel.data(), row, ch, tau, step, p_h + base,
                p_w + base, p_c + base, scratch);
      norm_sum += Sum(scratch, row);
    }
    const double energy =
        (divergence_sq + static_cast<double>(weight) * norm_sum) / static_cast<double>(n);
    if (i == 0) {
      energy_init = energy;
    } else if (std::fabs(energy_prev - energy) < eps * energy_init) {
      return;  // out holds this iteration's image, as scikit-image returns it
    }
    energy_prev = energy;
  }
}

class ChambolleOp : public OpKernel {
 public:
  explicit ChambolleOp(OpKernelConstruction* context) : OpKernel(context) {
    int ndim = 0;
    OP_REQUIRES_OK(context, context->GetAttr("ndim", &ndim));
    OP_REQUIRES_OK(context, context->GetAttr("eps", &eps_));
    OP_REQUIRES_OK(context, context->GetAttr("max_num_iter", &max_num_iter_));
    OP_REQUIRES(context, ndim > 0, absl::InvalidArgumentError("ndim must be positive"));
    tau_ = static_cast<float>(1.0 / (2.0 * ndim));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& images = context->input(0);
    const Tensor& weights = context->input(1);
    OP_REQUIRES(context, images.dims() == 4,
                absl::InvalidArgumentError("images must be (units, height, width, channels)"));
    const int64_t units = images.dim_size(0);
    OP_REQUIRES(context, weights.dims() == 1 && weights.dim_size(0) == units,
                absl::InvalidArgumentError("weights must have one entry per unit"));
    const Shape shape{images.dim_size(1), images.dim_size(2), images.dim_size(3)};
    Tensor* output = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, images.shape(), &output));
    const int64_t n = shape.size();
    if (units == 0 || n == 0) return;
    // From TensorFlow's allocator, which reuses memory between calls: p, then per unit two
    // rows of scratch.
    const int64_t per_unit = 3 * n + 2 * shape.row();
    Tensor duals;
    OP_REQUIRES_OK(context, context->allocate_temp(tensorflow::DT_FLOAT,
                                                   tensorflow::TensorShape({units, per_unit}),
                                                   &duals));
    // All ones where a value has a neighbour along C before / after it in its pixel.
    std::vector<uint32_t> has_previous_channel(shape.row()), has_next_channel(shape.row());
    for (int64_t k = 0; k < shape.row(); ++k) {
      has_previous_channel[k] = k % shape.channels != 0 ? ~0u : 0u;
      has_next_channel[k] = k % shape.channels != shape.channels - 1 ? ~0u : 0u;
    }
    const float* in = images.flat<float>().data();
    const float* w = weights.flat<float>().data();
    float* out = output->flat<float>().data();
    float* p = duals.flat<float>().data();
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t u = begin; u < end; ++u) {
        DenoiseUnit(in + u * n, w[u], shape, tau_, eps_, max_num_iter_, has_previous_channel,
                    has_next_channel, p + u * per_unit, out + u * n,
                    p + u * per_unit + 3 * n);
      }
    };
    auto* workers = context->device()->tensorflow_cpu_worker_threads();
    // Cost per unit: a few iterations of two passes, ~20 operations per value each.
    tensorflow::Shard(workers->num_threads, workers->workers, units, 200 * n, work);
  }

 private:
  float tau_ = 0.125f;
  float eps_ = 2.0e-4f;
  int max_num_iter_ = 200;
};

REGISTER_KERNEL_BUILDER(Name("FeatvizChambolle").Device(tensorflow::DEVICE_CPU), ChambolleOp);

}  // namespace
}  // namespace featviz
