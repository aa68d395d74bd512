// nn.utils: helpers around modules (torch.nn.utils, torch.utils.checkpoint).

export { checkpoint, checkpointSequential } from './checkpoint.js';
