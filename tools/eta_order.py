"""tools/eta_order.py - eta's data loader order in Python, for the PyTorch twins
(tools/twin.py, tools/twin_sp500_vol.py) that feed torch the batches eta's run sees.
"""


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


def eta_perm(n, seed, epoch):
    """eta's loader order of an epoch (src/data/loader.c make_perm): splitmix64
    seeded from (seed, epoch), Fisher-Yates with rejection sampling."""
    perm = list(range(n))
    _, k = splitmix64(seed)
    k ^= (epoch * 0xD1B54A32D192ED03) & 0xFFFFFFFFFFFFFFFF
    k, _ = splitmix64(k)
    for i in range(n - 1, 0, -1):
        m = i + 1
        lim = (2 ** 64 - m) % m  # 2^64 mod m, as -m % m in uint64
        while True:
            k, z = splitmix64(k)
            if z >= lim:
                break
        j = z % m
        perm[i], perm[j] = perm[j], perm[i]
    return perm
