// Tensor printing (see print.h). Values are formatted in one pass to find a common width, then
// laid out recursively dim by dim, with "..." where a long dim is abbreviated.
#include "tensor/print.h"

#include <algorithm>
#include <cmath>

#include "tensor/kernels/copy.h"

namespace gradstack {
namespace {

struct Printer {
    const Tensor& t;
    const PrintOptions& opt;
    bool abbreviate;
    bool floating;
    bool use_sci = false;
    size_t width = 1;

    std::string value(double v) const {
        if (t.dtype() == DType::b8) return v != 0 ? "True" : "False";
        if (!floating) return fmt::format("{}", static_cast<int64_t>(v));
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        if (use_sci) return fmt::format("{:.{}e}", v, opt.precision);
        return fmt::format("{:.{}f}", v, opt.precision);
    }

    // Visits the indices that will be shown along dim d (all, or the edges).
    std::vector<int64_t> shown(int64_t d) const {
        int64_t n = t.shape()[d];
        std::vector<int64_t> idx;
        if (abbreviate && n > 2 * opt.edge_items) {
            for (int64_t i = 0; i < opt.edge_items; ++i) idx.push_back(i);
            idx.push_back(-1);  // the "..." marker
            for (int64_t i = n - opt.edge_items; i < n; ++i) idx.push_back(i);
        } else {
            for (int64_t i = 0; i < n; ++i) idx.push_back(i);
        }
        return idx;
    }

    void collect(std::vector<int64_t>& index, std::vector<double>& out) const {
        int64_t d = static_cast<int64_t>(index.size());
        if (d == t.dim()) {
            out.push_back(element_at(t, index));
            return;
        }
        for (int64_t i : shown(d)) {
            if (i < 0) continue;
            index.push_back(i);
            collect(index, out);
            index.pop_back();
        }
    }

    void layout(std::vector<int64_t>& index, std::string& out, int indent) const {
        int64_t d = static_cast<int64_t>(index.size());
        if (d == t.dim()) {
            std::string s = value(element_at(t, index));
            out += std::string(width - std::min(width, s.size()), ' ') + s;
            return;
        }
        out += "[";
        bool first = true;
        for (int64_t i : shown(d)) {
            if (!first) {
                out += ",";
                out += d == t.dim() - 1 ? " " : std::string(t.dim() - d - 1, '\n') +
                                                    std::string(indent + d + 1, ' ');
            }
            first = false;
            if (i < 0) {
                out += "...";
                continue;
            }
            index.push_back(i);
            layout(index, out, indent);
            index.pop_back();
        }
        out += "]";
    }
};

}  // namespace

std::string to_string(const Tensor& t, const PrintOptions& options) {
    if (!t.defined()) return "tensor(undefined)";
    std::string meta = fmt::format("shape={}, dtype={}, device={}", shape_str(t.shape()),
                                   t.dtype(), t.device());
    // A GPU tensor prints from a host copy of it; the meta line still names its device.
    const Tensor host = t.device().type == DeviceType::cpu ? t : kernels::to_device(t, Device::cpu());
    Printer p{host, options, host.numel() > options.threshold, is_floating(host.dtype())};
    std::vector<int64_t> index;
    std::vector<double> values;
    p.collect(index, values);
    double max_abs = 0, min_abs = INFINITY;
    for (double v : values) {
        if (!std::isfinite(v)) continue;
        max_abs = std::max(max_abs, std::abs(v));
        if (v != 0) min_abs = std::min(min_abs, std::abs(v));
    }
    p.use_sci = p.floating && (max_abs >= 1e8 || (min_abs < 1e-4 && max_abs > 0));
    for (double v : values) p.width = std::max(p.width, p.value(v).size());
    std::string body;
    p.layout(index, body, 7);
    return fmt::format("tensor({}, {})", body, meta);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace gradstack
