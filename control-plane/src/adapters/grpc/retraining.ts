import {
  type AddLabelRequest,
  type AddLabelResponse,
  type ClaimRetrainingRequest,
  type CompleteRetrainingRequest,
  type CreateSnapshotRequest,
  type DatasetSnapshot,
  type FailRetrainingRequest,
  type GetDriftRequest,
  type GetDriftResponse,
  type GetRetrainingPolicyRequest,
  type GetSnapshotRequest,
  type ListRetrainingRequestsRequest,
  type ListRetrainingRequestsResponse,
  type ReportRetrainingProgressRequest,
  type RequestRetrainingRequest,
  type RetrainingPolicy as RetrainingPolicyPb,
  type RetrainingRequest as RetrainingRequestPb,
  RetrainingServiceService,
  type SetRetrainingPolicyRequest,
} from '@millwright/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../../domain/errors.js';
import type { RetrainingService } from '../../retraining/service.js';
import { callerOf } from './actor.js';
import { unary } from './handlers.js';
import {
  driftToPb,
  filterFromPb,
  policyFromPb,
  policyToPb,
  requestToPb,
  snapshotToPb,
  statusFromPb,
} from './retraining-mapping.js';
import type { GrpcServiceBinding } from './server.js';

/** RetrainingService over the retraining use cases: every RPC of the contract. */
export function retrainingServiceBinding(deps: { service: RetrainingService; log: Logger }): GrpcServiceBinding {
  const { service: s, log } = deps;
  return {
    name: 'millwright.v1.RetrainingService',
    definition: RetrainingServiceService,
    implementation: {
      createSnapshot: unary<CreateSnapshotRequest, DatasetSnapshot>(log, 'CreateSnapshot', async (req) => {
        const filter = filterFromPb(req.filter);
        if (!filter) throw new InvalidArgumentError('filter', 'required');
        return snapshotToPb(await s.createSnapshot(filter));
      }),
      getSnapshot: unary<GetSnapshotRequest, DatasetSnapshot>(log, 'GetSnapshot', async (req) =>
        snapshotToPb(await s.getSnapshot(req.id)),
      ),
      getDrift: unary<GetDriftRequest, GetDriftResponse>(log, 'GetDrift', async (req) => ({
        reports: (await s.getDrift(req)).map(driftToPb),
      })),
      requestRetraining: unary<RequestRetrainingRequest, RetrainingRequestPb>(log, 'RequestRetraining', async (req) =>
        requestToPb(
          await s.requestRetraining({
            model: req.model,
            baseVersion: req.baseVersion,
            filter: filterFromPb(req.filter),
            reason: req.reason || 'manual request',
            trigger: 'manual',
          }),
        ),
      ),
      listRequests: unary<ListRetrainingRequestsRequest, ListRetrainingRequestsResponse>(
        log,
        'ListRequests',
        async (req) => {
          const res = await s.listRequests({
            model: req.model,
            status: statusFromPb(req.status),
            pageSize: req.page?.pageSize ?? 0,
            pageToken: req.page?.pageToken ?? '',
          });
          return {
            requests: res.requests.map(requestToPb),
            page: { nextPageToken: res.nextPageToken, total: res.total },
          };
        },
      ),
      claim: unary<ClaimRetrainingRequest, RetrainingRequestPb>(log, 'Claim', async (req) =>
        requestToPb(await s.claim({ id: req.id, worker: req.worker, leaseS: req.leaseS })),
      ),
      reportProgress: unary<ReportRetrainingProgressRequest, RetrainingRequestPb>(log, 'ReportProgress', async (req) =>
        requestToPb(await s.reportProgress(req.id, req.progress, req.note)),
      ),
      complete: unary<CompleteRetrainingRequest, RetrainingRequestPb>(log, 'Complete', async (req) =>
        requestToPb(await s.complete(req.id, req.version)),
      ),
      fail: unary<FailRetrainingRequest, RetrainingRequestPb>(log, 'Fail', async (req) =>
        requestToPb(await s.fail(req.id, req.reason)),
      ),
      addLabel: unary<AddLabelRequest, AddLabelResponse>(log, 'AddLabel', async (req, call) => ({
        id: await s.addLabel({ ...req, operator: callerOf(call).actor }),
      })),
      setPolicy: unary<SetRetrainingPolicyRequest, RetrainingPolicyPb>(log, 'SetPolicy', async (req, call) =>
        policyToPb(await s.setPolicy(policyFromPb(req.policy), callerOf(call).actor)),
      ),
      getPolicy: unary<GetRetrainingPolicyRequest, RetrainingPolicyPb>(log, 'GetPolicy', async (req) =>
        policyToPb(await s.getPolicy(req.model)),
      ),
    },
  };
}
