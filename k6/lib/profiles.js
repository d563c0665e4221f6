// The five load profiles of the seed README, in a closed model (VUs) and an open model
// (arrival rate, iterations/s) that avoids coordinated omission. Everything comes from
// __ENV, with the seed README's defaults.

const env = __ENV;

function int(name, fallback) {
  const v = parseInt(env[name], 10);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function str(name, fallback) {
  return env[name] ? String(env[name]) : fallback;
}

// Each shape is a list of [duration, level]; level is VUs (closed) or iterations/s (open).
function shapes(level, stressLevel, spikeLevel) {
  const ramp = str('RAMP_DURATION', '30s');
  const hold = str('DURATION', '60s');
  const soak = str('SOAK_DURATION', '10m');
  const steps = [0.25, 0.5, 0.75, 1].map((f) => Math.max(1, Math.ceil(f * stressLevel)));
  const base = Math.max(1, Math.ceil(level / 10));
  return {
    ramp: [[ramp, level], [hold, level], [ramp, 0]],
    soak: [[ramp, level], [soak, level], [ramp, 0]],
    stress: [].concat(...steps.map((s) => [[ramp, s], [hold, s]]), [[ramp, 0]]),
    spike: [[ramp, base], ['2s', spikeLevel], [hold, spikeLevel], ['2s', base], [ramp, base], ['2s', 0]],
  };
}

export const PROFILES = ['smoke', 'ramp', 'soak', 'stress', 'spike'];

export function buildScenario(profile, model) {
  if (PROFILES.indexOf(profile) < 0) throw new Error(`unknown PROFILE '${profile}': use one of ${PROFILES.join(', ')}`);
  const vus = int('VUS', 10);
  const smokeDuration = str('SMOKE_DURATION', '30s');
  const tags = { profile: profile };
  if (model === 'open') {
    const rate = int('RATE', 50);
    const stressRate = int('STRESS_RATE', rate * 5);
    const spikeRate = int('SPIKE_RATE', rate * 10);
    const maxVUs = int('MAX_VUS', Math.max(vus, int('STRESS_VUS', 50), int('SPIKE_VUS', 100)));
    const pre = Math.min(maxVUs, Math.max(1, vus));
    if (profile === 'smoke') {
      return { executor: 'constant-arrival-rate', rate: Math.max(1, Math.ceil(rate / 10)), timeUnit: '1s',
        duration: smokeDuration, preAllocatedVUs: Math.min(pre, int('SMOKE_VUS', 2)), maxVUs: maxVUs, tags: tags };
    }
    const stages = shapes(rate, stressRate, spikeRate)[profile].map(([d, t]) => ({ duration: d, target: t }));
    return { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', stages: stages,
      preAllocatedVUs: pre, maxVUs: maxVUs, tags: tags };
  }
  if (model !== 'closed') throw new Error(`unknown LOAD_MODEL '${model}': use closed or open`);
  if (profile === 'smoke') {
    return { executor: 'constant-vus', vus: int('SMOKE_VUS', 2), duration: smokeDuration, tags: tags };
  }
  const stages = shapes(vus, int('STRESS_VUS', 50), int('SPIKE_VUS', 100))[profile].map(([d, t]) => ({ duration: d, target: t }));
  return { executor: 'ramping-vus', startVUs: 0, stages: stages, gracefulRampDown: '10s', tags: tags };
}
