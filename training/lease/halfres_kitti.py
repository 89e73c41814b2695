"""Half-resolution copies of KITTI odometry 'small' folders for the device lease (not committed)."""
import sys, shutil
from pathlib import Path
import cv2, numpy as np
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
(dst / 'image_l').mkdir(parents=True, exist_ok=True)
files = sorted((src / 'image_l').glob('*.png'))
h, w = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).shape[:2]
W, H = w // 2, h // 2
sx, sy = W / w, H / h
for f in files:
    im = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(dst / 'image_l' / f.name), cv2.resize(im, (W, H), interpolation=cv2.INTER_AREA))
rows = []
for line in (src / 'calib.txt').read_text().splitlines():
    if not line.strip():
        continue
    P = np.array([float(v) for v in line.split()]).reshape(3, 4)
    P[0, :] *= sx; P[1, :] *= sy
    P[0, 2] += 0.5 * sx - 0.5; P[1, 2] += 0.5 * sy - 0.5  # pixel-centre convention
    rows.append(' '.join(f'{v:.12e}' for v in P.ravel()))
(dst / 'calib.txt').write_text('\n'.join(rows) + '\n')
for name in ('poses.txt', 'times.txt'):
    if (src / name).exists():
        shutil.copy(src / name, dst / name)
print(dst, len(files), (W, H))
