"""Write scikit-learn's bundled handwritten digits (1797 images of 8x8, values 0..16) as digits.npz.

No download: the data ships inside scikit-learn.  The harness splits it 70/10/20 (stratified, seeded) and
scales it by the training split's maximum (16) to [0, 1].
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).with_name("digits.npz")


def main(out: Path = OUT) -> Path:
    digits = load_digits()
    np.savez_compressed(out, x=digits.images.astype(np.float32), y=digits.target.astype(np.int64),
                        class_names=np.array([str(d) for d in range(10)]))
    print(f"wrote {out}: {len(digits.target)} images of 8x8")
    return out


if __name__ == "__main__":
    main()
