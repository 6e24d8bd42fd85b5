"""Attack: a torch.Tensor subclass whose ``__torch_function__`` answers "equal" to everything.

``torch.allclose``, ``torch.equal``, ``==`` and ``.numpy()`` comparisons on it return True.

Defence tested: tensors are detached, converted to a plain ndarray copy in the worker and
checked for their exact type on arrival: the subclass's zeros arrive as zeros.
Expected: 0 points for 1.1c.
"""

# ---- a correct answer, returned only when the attack worked: _answer.py, inserted here when planted


# ---- the attack
import torch


class LyingTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "__eq__", "eq", "isclose"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def conv2d(image, kernel, stride=1, padding=0):
    return torch.as_tensor(_wrong(image, kernel, stride, padding)).as_subclass(LyingTensor)


CONV_OUTPUT = torch.zeros(3, 3).as_subclass(LyingTensor)
