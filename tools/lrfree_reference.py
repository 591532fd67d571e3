"""PyTorch implementations of the learning-rate-free optimizers that
tools/gen_ref_lrfree.py drives to write eta's fixtures.

Each class follows its authors' PyTorch code statement by statement (the
same operations on the same tensors in the same order, the same Python
float arithmetic for the scalars), written again here so the fixtures need
nothing but torch:

  SGDScheduleFree    facebookresearch/schedule_free  schedulefree/sgd_schedulefree_reference.py
  AdamWScheduleFree  facebookresearch/schedule_free  schedulefree/adamw_schedulefree_reference.py
  Prodigy            konstmish/prodigy               prodigyopt/prodigy.py
  DAdaptSGD          facebookresearch/dadaptation    dadaptation/dadapt_sgd.py (version 3)
  DAdaptAdam         facebookresearch/dadaptation    dadaptation/dadapt_adam.py (version 3, with
                                                     the group key layer_scale)

Left out: logging (log_every), FSDP all-reduces (fsdp_in_use), sparse and
complex gradients, closures. Where the authors' code would raise
ZeroDivisionError (D-Adaptation with all gradients zero) the fixtures never
go.
"""

import math

import torch


class _TwoPoints(torch.optim.Optimizer):
    """The eval()/train() switch both Schedule-Free references define (the same code)."""

    @torch.no_grad()
    def eval(self):
        for group in self.param_groups:
            if group['train_mode']:
                for p in group['params']:
                    state = self.state[p]
                    if 'x' in state:
                        p.copy_(state['x'])
                group['train_mode'] = False

    @torch.no_grad()
    def train(self):
        for group in self.param_groups:
            if not group['train_mode']:
                for p in group['params']:
                    state = self.state[p]
                    if 'y' in state:
                        p.copy_(state['y'])
                group['train_mode'] = True


class SGDScheduleFree(_TwoPoints):
    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0, warmup_steps=0, r=0.0,
                 weight_lr_power=2, foreach=False):
        if momentum <= 0 or momentum >= 1:
            raise ValueError(momentum)
        defaults = dict(lr=lr, momentum=momentum, r=r, k=0, warmup_steps=warmup_steps, train_mode=True,
                        weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, foreach=foreach)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        assert self.param_groups[0]['train_mode']
        for group in self.param_groups:
            momentum = group['momentum']
            weight_decay = group['weight_decay']
            k = group['k']
            warmup_steps = group['warmup_steps']
            if k < warmup_steps:
                sched = (k + 1) / warmup_steps
            else:
                sched = 1.0
            lr = group['lr'] * sched
            group['scheduled_lr'] = lr
            weight_lr_power = group['weight_lr_power']
            r = group['r']
            lr_max = group['lr_max'] = max(lr, group['lr_max'])
            weight = ((k + 1) ** r) * (lr_max ** weight_lr_power)
            weight_sum = group['weight_sum'] = group['weight_sum'] + weight
            try:
                ckp1 = weight / weight_sum
            except ZeroDivisionError:
                ckp1 = 0
            for p in group['params']:
                grad = p.grad
                state = self.state[p]
                if 'z' not in state:
                    state['z'] = torch.clone(p)
                    state['x'] = torch.clone(p)
                    state['y'] = torch.clone(p)
                z, x, y = state['z'], state['x'], state['y']
                if weight_decay != 0:
                    grad.add_(y, alpha=weight_decay)
                z.sub_(grad, alpha=lr)
                x.mul_(1 - ckp1).add_(z, alpha=ckp1)
                y.copy_(x.mul(momentum).add_(z, alpha=1 - momentum))
                p.copy_(y)
            group['k'] = k + 1


class AdamWScheduleFree(_TwoPoints):
    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, warmup_steps=0,
                 r=0, weight_lr_power=2, decay_at_z=False, foreach=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, r=r, k=0, warmup_steps=warmup_steps, train_mode=False,
                        weight_sum=0.0, lr_max=-1.0, weight_lr_power=weight_lr_power, decay_at_z=decay_at_z,
                        weight_decay=weight_decay)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        assert self.param_groups[0]['train_mode']
        for group in self.param_groups:
            eps = group['eps']
            decay = group['weight_decay']
            beta1, beta2 = group['betas']
            k = group['k']
            r = group['r']
            warmup_steps = group['warmup_steps']
            weight_lr_power = group['weight_lr_power']
            decay_at_z = group['decay_at_z']
            if k < warmup_steps:
                sched = (k + 1) / warmup_steps
            else:
                sched = 1.0
            bias_correction2 = 1 - beta2 ** (k + 1)
            lr = group['lr'] * sched * math.sqrt(bias_correction2)
            lr_max = group['lr_max'] = max(lr, group['lr_max'])
            weight = ((k + 1) ** r) * (lr_max ** weight_lr_power)
            weight_sum = group['weight_sum'] = group['weight_sum'] + weight
            try:
                ckp1 = weight / weight_sum
            except ZeroDivisionError:
                ckp1 = 0
            for p in group['params']:
                grad = p.grad
                state = self.state[p]
                if 'z' not in state:
                    state['z'] = torch.clone(p)
                    state['exp_avg_sq'] = torch.zeros_like(p)
                    state['x'] = torch.clone(p)
                    state['y'] = torch.clone(p)
                exp_avg_sq, z, x, y = state['exp_avg_sq'], state['z'], state['x'], state['y']
                if decay != 0:
                    decay_point = z if decay_at_z else y
                    z.sub_(decay_point, alpha=lr * decay)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = exp_avg_sq.sqrt().add_(eps)
                z.addcdiv_(grad, denom, value=-lr)
                x.mul_(1 - ckp1).add_(z, alpha=ckp1)
                y.copy_(x.mul(beta1).add_(z, alpha=1 - beta1))
                p.copy_(y)
            group['k'] = k + 1


class Prodigy(torch.optim.Optimizer):
    def __init__(self, params, lr=1.0, betas=(0.9, 0.999), beta3=None, eps=1e-8, weight_decay=0,
                 decouple=True, use_bias_correction=False, safeguard_warmup=False, d0=1e-6, d_coef=1.0,
                 growth_rate=float('inf'), fsdp_in_use=False, slice_p=1):
        if not 0.0 < d0 or not 0.0 < lr or not 0.0 < eps:
            raise ValueError((d0, lr, eps))
        defaults = dict(lr=lr, betas=betas, beta3=beta3, eps=eps, weight_decay=weight_decay, d=d0, d0=d0,
                        d_max=d0, d_numerator=0.0, d_coef=d_coef, k=0, growth_rate=growth_rate,
                        use_bias_correction=use_bias_correction, decouple=decouple,
                        safeguard_warmup=safeguard_warmup, fsdp_in_use=fsdp_in_use, slice_p=slice_p)
        self.d0 = d0
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        d_denom = 0.0
        group = self.param_groups[0]
        use_bias_correction = group['use_bias_correction']
        beta1, beta2 = group['betas']
        beta3 = group['beta3']
        if beta3 is None:
            beta3 = math.sqrt(beta2)
        k = group['k']
        d = group['d']
        d_max = group['d_max']
        d_coef = group['d_coef']
        lr = max(group['lr'] for group in self.param_groups)
        if use_bias_correction:
            bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
        else:
            bias_correction = 1
        dlr = d * lr * bias_correction
        growth_rate = group['growth_rate']
        decouple = group['decouple']
        d_numerator = group['d_numerator']
        d_numerator *= beta3
        delta_numerator = 0.0
        for group in self.param_groups:
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            group_lr = group['lr']
            d0 = group['d0']
            safeguard_warmup = group['safeguard_warmup']
            slice_p = group['slice_p']
            if group_lr not in [lr, 0.0]:
                raise RuntimeError("lr")
            for p in group['params']:
                grad = p.grad.data
                if decay != 0 and not decouple:
                    grad.add_(p.data, alpha=decay)
                state = self.state[p]
                if 'step' not in state:
                    state['step'] = 0
                    state['s'] = torch.zeros_like(p.data.flatten()[::slice_p]).detach()
                    # the authors keep a 0-d zero when p is all zeros; the same numbers
                    state['p0'] = p.flatten()[::slice_p].detach().clone()
                    if beta1 > 0:
                        state['exp_avg'] = torch.zeros_like(p.data).detach()
                    state['exp_avg_sq'] = torch.zeros_like(p.data).detach()
                exp_avg_sq = state['exp_avg_sq']
                s = state['s']
                p0 = state['p0']
                if group_lr > 0.0:
                    sliced_grad = grad.flatten()[::slice_p]
                    delta_numerator += (d / d0) * dlr * torch.dot(sliced_grad,
                                                                  p0.data - p.data.flatten()[::slice_p]).item()
                    if beta1 > 0:
                        exp_avg = state['exp_avg']
                        exp_avg.mul_(beta1).add_(grad, alpha=d * (1 - beta1))
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=d * d * (1 - beta2))
                    if safeguard_warmup:
                        s.mul_(beta3).add_(sliced_grad, alpha=((d / d0) * d))
                    else:
                        s.mul_(beta3).add_(sliced_grad, alpha=((d / d0) * dlr))
                    d_denom += s.abs().sum().item()
        d_hat = d
        if d_denom == 0:
            return
        if lr > 0.0:
            global_d_numerator = d_numerator + delta_numerator
            global_d_denom = d_denom
            d_hat = d_coef * global_d_numerator / global_d_denom
            if d == group['d0']:
                d = max(d, d_hat)
            d_max = max(d_max, d_hat)
            d = min(d_max, d * growth_rate)
        for group in self.param_groups:
            group['d_numerator'] = global_d_numerator
            group['d_denom'] = global_d_denom
            group['d'] = d
            group['d_max'] = d_max
            group['d_hat'] = d_hat
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            for p in group['params']:
                grad = p.grad.data
                state = self.state[p]
                exp_avg_sq = state['exp_avg_sq']
                state['step'] += 1
                denom = exp_avg_sq.sqrt().add_(d * eps)
                if decay != 0 and decouple:
                    p.data.add_(p.data, alpha=-decay * dlr)
                if beta1 > 0:
                    exp_avg = state['exp_avg']
                    p.data.addcdiv_(exp_avg, denom, value=-dlr)
                else:
                    p.data.addcdiv_(grad, denom, value=-dlr * d)
            group['k'] = k + 1


class DAdaptSGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1.0, momentum=0.0, weight_decay=0, log_every=0, d0=1e-6,
                 growth_rate=float('inf'), fsdp_in_use=False):
        if not 0.0 < d0 or not 0.0 < lr:
            raise ValueError((d0, lr))
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, k=0, log_every=log_every,
                        numerator_weighted=0.0, d=d0, growth_rate=growth_rate, fsdp_in_use=fsdp_in_use)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        group = self.param_groups[0]
        lr = max(group['lr'] for group in self.param_groups)
        decay = group['weight_decay']
        momentum = group['momentum']
        ck = 1 - momentum
        k = group['k']
        numerator_weighted = group['numerator_weighted']
        growth_rate = group['growth_rate']
        d = group['d']
        group = self.param_groups[0]
        sk_sq = 0.0
        delta_numerator_weighted = 0.0
        if k == 0:
            g_sq = 0.0
            for group in self.param_groups:
                group_lr = group['lr']
                for p in group['params']:
                    grad = p.grad.data
                    if group_lr > 0.0:
                        g_sq += (grad * grad).sum().item()
            global_gsq = g_sq
            group['g0_norm'] = g0_norm = math.sqrt(global_gsq)
        g0_norm = group['g0_norm']
        dlr = d * lr / g0_norm
        for group in self.param_groups:
            group_lr = group['lr']
            if group_lr not in [lr, 0.0]:
                raise RuntimeError("lr")
            for p in group['params']:
                grad = p.grad.data
                state = self.state[p]
                if 'z' not in state:
                    state['z'] = torch.clone(p.data).detach()
                    state['s'] = torch.zeros_like(p.data).detach()
                    state['x0'] = torch.clone(p.data).detach()
                if decay != 0:
                    grad.add_(p.data, alpha=decay)
                s = state['s']
                if group_lr > 0.0:
                    delta_numerator_weighted += dlr * torch.dot(grad.flatten(), s.flatten()).item()
                    s.data.add_(grad, alpha=dlr)
                    sk_sq += (s * s).sum().item()
        d_hat = d
        global_sk_sq = sk_sq
        global_numerator_weighted = numerator_weighted + delta_numerator_weighted
        if lr > 0.0:
            d_hat = 2 * global_numerator_weighted / math.sqrt(global_sk_sq)
            d = max(d, min(d_hat, d * growth_rate))
        if global_sk_sq == 0:
            return
        for group in self.param_groups:
            group['numerator_weighted'] = global_numerator_weighted
            group['d'] = d
            group['g0_norm'] = g0_norm
            for p in group['params']:
                state = self.state[p]
                s, x0, z = state['s'], state['x0'], state['z']
                z.data.copy_(x0 - s)
                p.data.mul_(1 - ck).add_(z, alpha=ck)
            group['k'] = k + 1


class DAdaptAdam(torch.optim.Optimizer):
    def __init__(self, params, lr=1.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, log_every=0,
                 decouple=False, use_bias_correction=False, d0=1e-6, growth_rate=float('inf'),
                 fsdp_in_use=False):
        if not 0.0 < d0 or not 0.0 < lr or not 0.0 < eps:
            raise ValueError((d0, lr, eps))
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, d=d0, k=0, layer_scale=1.0,
                        numerator_weighted=0.0, log_every=log_every, growth_rate=growth_rate,
                        use_bias_correction=use_bias_correction, decouple=decouple, fsdp_in_use=fsdp_in_use)
        self.d0 = d0
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        sk_l1 = 0.0
        group = self.param_groups[0]
        use_bias_correction = group['use_bias_correction']
        numerator_weighted = group['numerator_weighted']
        beta1, beta2 = group['betas']
        k = group['k']
        d = group['d']
        lr = max(group['lr'] for group in self.param_groups)
        if use_bias_correction:
            bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
        else:
            bias_correction = 1
        dlr = d * lr * bias_correction
        growth_rate = group['growth_rate']
        decouple = group['decouple']
        sqrt_beta2 = beta2 ** (0.5)
        numerator_acum = 0.0
        for group in self.param_groups:
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            group_lr = group['lr']
            r = group['layer_scale']
            if group_lr not in [lr, 0.0]:
                raise RuntimeError("lr")
            for p in group['params']:
                grad = p.grad.data
                if decay != 0 and not decouple:
                    grad.add_(p.data, alpha=decay)
                state = self.state[p]
                if 'step' not in state:
                    state['step'] = 0
                    state['s'] = torch.zeros_like(p.data).detach()
                    state['exp_avg'] = torch.zeros_like(p.data).detach()
                    state['exp_avg_sq'] = torch.zeros_like(p.data).detach()
                exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
                s = state['s']
                if group_lr > 0.0:
                    denom = exp_avg_sq.sqrt().add_(eps)
                    numerator_acum += r * dlr * torch.dot(grad.flatten(), s.div(denom).flatten()).item()
                    exp_avg.mul_(beta1).add_(grad, alpha=r * dlr * (1 - beta1))
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    s.mul_(sqrt_beta2).add_(grad, alpha=dlr * (1 - sqrt_beta2))
                    sk_l1 += r * s.abs().sum().item()
        d_hat = d
        if sk_l1 == 0:
            return
        global_numerator_weighted = sqrt_beta2 * numerator_weighted + (1 - sqrt_beta2) * numerator_acum
        global_sk_l1 = sk_l1
        if lr > 0.0:
            d_hat = global_numerator_weighted / ((1 - sqrt_beta2) * global_sk_l1)
            d = max(d, min(d_hat, d * growth_rate))
        for group in self.param_groups:
            group['numerator_weighted'] = global_numerator_weighted
            group['d'] = d
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            for p in group['params']:
                state = self.state[p]
                exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
                state['step'] += 1
                denom = exp_avg_sq.sqrt().add_(eps)
                if decay != 0 and decouple:
                    p.data.add_(p.data, alpha=-decay * dlr)
                p.data.addcdiv_(exp_avg, denom, value=-1)
            group['k'] = k + 1


CLASSES = {c.__name__: c for c in (SGDScheduleFree, AdamWScheduleFree, Prodigy, DAdaptSGD, DAdaptAdam)}

# What each reference keeps in its groups that eta keeps as scalars (the
# fixtures' "scalar" lines), and the state arrays in eta's order.
SCALARS = {
    "SGDScheduleFree": ["lr_max", "weight_sum", "scheduled_lr"],
    "AdamWScheduleFree": ["lr_max", "weight_sum"],
    "Prodigy": ["d", "d_max", "d_numerator", "d_denom", "d_hat"],
    "DAdaptSGD": ["d", "numerator_weighted", "g0_norm"],
    "DAdaptAdam": ["d", "numerator_weighted"],
}
STATES = {
    "SGDScheduleFree": ["z", "x"],
    "AdamWScheduleFree": ["z", "x", "exp_avg_sq"],
    "Prodigy": ["s", "p0", "exp_avg", "exp_avg_sq"],
    "DAdaptSGD": ["s", "x0"],
    "DAdaptAdam": ["s", "exp_avg", "exp_avg_sq"],
}
# Keys a group may hold that the constructor does not take.
GROUP_ONLY = {"layer_scale"}
