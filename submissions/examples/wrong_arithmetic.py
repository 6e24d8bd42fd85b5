"""Example submission: a student with the right formula and a slip in the arithmetic.

Copy of ``correct_loops/hw2.py`` with ONE mistake: CONV_OUTPUT_SHAPE = (2, 2) (forgot the
"+ 1": (5 - 3) / 1 = 2) although the formula string and every computed array are right.

Expected grade: loses 1.1a only. Full marks on 1.1b 1.1c 1.1d 1.2a 1.2b 1.2c 1.2d.
"""


def _to_lists(a):
    """Turn an array-like into nested Python lists of floats."""
    if hasattr(a, "tolist"):
        a = a.tolist()
    if isinstance(a, (list, tuple)):
        return [_to_lists(v) for v in a]
    return float(a)


def _pair(v):
    if isinstance(v, (list, tuple)) or hasattr(v, "__len__"):
        return int(v[0]), int(v[1])
    return int(v), int(v)


# ---------------------------------------------------------------- 1.1 Convolution

CONV_OUTPUT_SHAPE = (2, 2)

CONV_OUTPUT_WIDTH_FORMULA = "floor((I + 2P - K) / S) + 1"

CONV_OUTPUT = [
    [109, 92, 72],
    [108, 85, 74],
    [110, 74, 79],
]


def _padded(image, padding):
    H, W = len(image), len(image[0])
    out = [[0.0] * (W + 2 * padding) for _ in range(H + 2 * padding)]
    for r in range(H):
        for c in range(W):
            out[r + padding][c + padding] = image[r][c]
    return out


def conv2d(image, kernel, stride=1, padding=0):
    image = _to_lists(image)
    kernel = _to_lists(kernel)
    x = _padded(image, padding)
    KH, KW = len(kernel), len(kernel[0])
    Ho = (len(x) - KH) // stride + 1
    Wo = (len(x[0]) - KW) // stride + 1
    out = []
    for i in range(Ho):
        row = []
        for j in range(Wo):
            total = 0.0
            for u in range(KH):
                for v in range(KW):
                    total += x[i * stride + u][j * stride + v] * kernel[u][v]
            row.append(total)
        out.append(row)
    return out


INPUT_GRADIENT = [
    [4, 7, 10, 6, 3],
    [9, 17, 25, 16, 8],
    [11, 23, 34, 23, 11],
    [7, 16, 24, 17, 8],
    [2, 6, 9, 7, 3],
]


def conv2d_input_grad(image, kernel, grad_output, stride=1, padding=0):
    image = _to_lists(image)
    kernel = _to_lists(kernel)
    g = _to_lists(grad_output)
    H, W = len(image), len(image[0])
    KH, KW = len(kernel), len(kernel[0])
    gp = [[0.0] * (W + 2 * padding) for _ in range(H + 2 * padding)]
    for i in range(len(g)):
        for j in range(len(g[0])):
            for u in range(KH):
                for v in range(KW):
                    gp[i * stride + u][j * stride + v] += g[i][j] * kernel[u][v]
    return [row[padding : padding + W] for row in gp[padding : padding + H]]


# ---------------------------------------------------------------- 1.2 Pooling

POOLING_MODULES = {
    "max": "torch.nn.MaxPool2d",
    "average": "torch.nn.AvgPool2d",
    "lp": "torch.nn.LPPool2d",
}


def _pool_channel(x, kernel_size, stride, reduce):
    kh, kw = _pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    Ho = (len(x) - kh) // sh + 1
    Wo = (len(x[0]) - kw) // sw + 1
    out = []
    for i in range(Ho):
        row = []
        for j in range(Wo):
            window = []
            for a in range(kh):
                for b in range(kw):
                    window.append(x[i * sh + a][j * sw + b])
            row.append(reduce(window))
        out.append(row)
    return out


def _pool(x, kernel_size, stride, reduce):
    x = _to_lists(x)
    if isinstance(x[0][0], list):  # (C, H, W): each feature map separately
        return [_pool_channel(ch, kernel_size, stride, reduce) for ch in x]
    return _pool_channel(x, kernel_size, stride, reduce)


def max_pool2d(x, kernel_size, stride=None):
    return _pool(x, kernel_size, stride, max)


def avg_pool2d(x, kernel_size, stride=None):
    return _pool(x, kernel_size, stride, lambda w: sum(w) / len(w))


def lp_pool2d(x, p, kernel_size, stride=None):
    def lp(window):
        if p == float("inf"):
            return max(abs(v) for v in window)
        total = 0.0
        for v in window:
            total += v**p
        return total ** (1.0 / p)

    return _pool(x, kernel_size, stride, lp)


MAXPOOL_OUTPUT = [
    [109, 92],
    [110, 85],
]

LP_P_FOR_MAX = "inf"
LP_P_FOR_AVERAGE = 1


def avg_pool_from_lp(x, kernel_size, stride=None):
    kh, kw = _pair(kernel_size)
    sums = lp_pool2d(x, 1, kernel_size, stride)

    def divide(a):
        if isinstance(a, list):
            return [divide(v) for v in a]
        return a / (kh * kw)

    return divide(sums)
