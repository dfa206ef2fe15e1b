"""moto's server, with three corrections that make it behave as AWS does.

1. Each DynamoDB request is applied atomically, as DynamoDB applies it. moto serves requests on
   threads and its DynamoDB backend takes no lock, so two concurrent conditional writes (or
   transactions) can both find their condition true, which real DynamoDB never allows. DynamoDB
   requests (X-Amz-Target DynamoDB_*) are serialised; every other service stays concurrent: Step
   Functions executions call back into the server while requests run.
2. Step Functions' optimised integration `arn:aws:states:::states:startExecution` takes its
   parameters as the API reference names them (StateMachineArn, Name, Input). moto's executor
   hands them to boto unrenamed, and boto (whose members are stateMachineArn, name, input) fails
   with KeyError 'StateMachineArn'. The parameters are renamed to the operation's members first,
   as Step Functions does, and the answer's dates are given as text, so a definition that starts
   another execution runs as deployed.
3. StopExecution ends a run that waits for a task token at once, as on AWS. moto marks the
   program stopped but leaves the task's wait blocked until its heartbeat times out, so the run
   stayed RUNNING; the stop now also wakes every callback the run waits on, and the error the
   woken task then raises does not turn the stopped run into a failed one (it ends ABORTED).
4. A DynamoDB transaction costs what it writes, as on AWS. moto keeps a copy of every table a
   transaction names (once per action) to roll back a cancelled one, so a transaction's time grew
   with the table: a test suite whose tables fill up with audit trails slowed to a crawl. Only the
   items the actions name are kept now (and the table's stream length), and put back on rollback.

Arguments are moto_server's.
"""
import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_dynamodb = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb:
            # Consume the body inside the lock: the request is done when its answer is.
            return list(_dispatch(self, environ, start_response))
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call


def _rename_sfn_parameters():
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn_task,
    )

    model = botocore.session.get_session().get_service_model("stepfunctions")
    members = {
        botocore.xform_name(name): model.operation_model(name).input_shape
        for name in model.operation_names
    }
    normalise = sfn_task.StateTaskServiceSfn._normalise_parameters

    def _normalise(self, parameters, boto_service_name=None, service_action_name=None):
        normalise(self, parameters, boto_service_name, service_action_name)
        shape = members.get(self._get_boto_service_action(service_action_name))
        if service_action_name is None and shape is not None:
            self._to_boto_request(parameters, shape)

    evaluate = sfn_task.StateTaskServiceSfn._eval_service_task

    def _evaluate(self, env, *args, **kwargs):
        # The answer as the integration gives it: the API's member names in PascalCase, and dates
        # as text (moto would otherwise fail to serialise the state's output).
        evaluate(self, env, *args, **kwargs)
        answer = env.stack[-1]
        if isinstance(answer, dict):
            env.stack[-1] = {
                key[:1].upper() + key[1:]: value.isoformat() if hasattr(value, "isoformat") else value
                for key, value in answer.items()
            }

    sfn_task.StateTaskServiceSfn._normalise_parameters = _normalise
    sfn_task.StateTaskServiceSfn._eval_service_task = _evaluate


_rename_sfn_parameters()


def _stop_wakes_callbacks():
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    stop = ExecutionWorker.stop
    set_error = Environment.set_error

    def _set_error(self, error):
        with self._state_mutex:
            stopped = isinstance(self._program_state, ProgramStopped)
        if not stopped:
            set_error(self, error)

    def _stop(self, stop_date, error, cause):
        stop(self, stop_date=stop_date, error=error, cause=cause)
        for endpoint in list(self.env.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    ExecutionWorker.stop = _stop
    Environment.set_error = _set_error


_stop_wakes_callbacks()


def _transactions_keep_only_their_items():
    import copy
    import types

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    transact = models.DynamoDBBackend.transact_write_items
    no_copy = types.SimpleNamespace(deepcopy=lambda value: value)

    def _key(table, op):
        attrs = op.get("Item") or op.get("Key") or {}
        if table.hash_key_attr not in attrs:
            return None
        hash_key = DynamoType(attrs[table.hash_key_attr])
        if table.range_key_attr is None:
            return hash_key, None
        if table.range_key_attr not in attrs:
            return None
        return hash_key, DynamoType(attrs[table.range_key_attr])

    def _transact(self, transact_items):
        kept = []
        streams = {}
        for action in transact_items[:100]:
            op = next(iter(action.values()), None)
            table = self.tables.get((op or {}).get("TableName"))
            if table is None:
                continue
            key = _key(table, op)
            if key is None:
                continue
            kept.append((table, key, copy.deepcopy(table.get_item(*key))))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table, len(table.stream_shard.items)))
        # moto's own rollback then puts back the very tables it changed: a no-op, undone below.
        models.copy = no_copy
        try:
            transact(self, transact_items)
        except Exception:
            for table, (hash_key, range_key), old in reversed(kept):
                if range_key is None:
                    table.items.pop(hash_key, None)
                    if old is not None:
                        table.items[hash_key] = old
                else:
                    table.items[hash_key].pop(range_key, None)
                    if old is not None:
                        table.items[hash_key][range_key] = old
            for table, length in streams.values():
                del table.stream_shard.items[length:]
            raise
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = _transact


_transactions_keep_only_their_items()

if __name__ == "__main__":
    server.main(sys.argv[1:])
